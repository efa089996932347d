"""Prometheus and Grafana configuration: it parses, and names only what the code defines.

Metric names are checked against the registry of ``consumer.metrics``; the dashboard's SQL
against the views and tables that ``sla-pipeline db upgrade`` creates.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from cli.main import cli
from tests.support.compose import ROOT, resolved_model

# Runs programs the test extras install (docker compose, hadolint) or the CLI.
pytestmark = pytest.mark.tools

MONITORING = ROOT / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
PROVISIONING = MONITORING / "grafana" / "provisioning"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "sla.json"
SLA_VIEWS = {"order_sla", "sla_daily"}

#: Sample-name suffixes each metric type exposes (prometheus_client's exposition format).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _targets(datasource_type: str) -> Iterator[dict[str, Any]]:
    for panel in _dashboard()["panels"]:
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            if datasource.get("type") == datasource_type:
                yield target


def consumer_sample_names() -> set[str]:
    """Every sample name the consumer's metrics can expose.

    ``consumer.metrics`` may hold metrics at module level, in a registry, or build them in a
    class or function taking ``registry``; each is asked for its metric families.
    """
    import consumer.metrics as module

    registry = CollectorRegistry()
    for value in vars(module).values():
        if getattr(value, "__module__", None) != module.__name__ or not callable(value):
            continue
        parameters = inspect.signature(value).parameters
        if "registry" in parameters and all(
            p.default is not p.empty for n, p in parameters.items() if n != "registry"
        ):
            value(registry=registry)
    families = list(registry.collect())
    for value in vars(module).values():
        if isinstance(value, CollectorRegistry):
            families += value.collect()
        elif isinstance(value, MetricWrapperBase):
            families += value.describe()
    names = {f.name + suffix for f in families for suffix in _SUFFIXES.get(f.type, ("",))}
    assert names, "consumer.metrics defines no metrics"
    return names


def test_prometheus_scrapes_every_consumer_replica() -> None:
    config = _yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    discovery = jobs["sla-pipeline-consumer"]["dns_sd_configs"]
    consumer = resolved_model()["services"]["consumer"]
    command: list[str] = consumer["command"]
    metrics_port = int(command[command.index("--metrics-port") + 1])
    assert any(
        "consumer" in d["names"] and d["type"] == "A" and d["port"] == metrics_port
        for d in discovery
    ), "no DNS discovery of the consumer service on its metrics port"


def test_grafana_provisioning_matches_the_dashboard() -> None:
    datasources = _yaml(PROVISIONING / "datasources" / "datasources.yml")["datasources"]
    by_uid = {d["uid"]: d for d in datasources}
    assert by_uid["sla-postgres"]["type"] == "grafana-postgresql-datasource"
    assert by_uid["sla-prometheus"]["url"] == "http://prometheus:9090"
    used = {
        t["datasource"]["uid"]
        for p in _dashboard()["panels"]
        for t in p.get("targets", [])
        if "datasource" in t
    }
    assert used == set(by_uid)

    providers = _yaml(PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    grafana = resolved_model("monitoring")["services"]["grafana"]
    mounted = {v["target"]: v["source"] for v in grafana["volumes"] if v["type"] == "bind"}
    for provider in providers:
        assert Path(mounted[provider["options"]["path"]]) == DASHBOARD.parent


def test_dashboard_is_well_formed() -> None:
    dashboard = _dashboard()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    assert dashboard["uid"] and dashboard["title"]
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel.get("targets"), f"{panel['title']} has no query"


def test_dashboard_names_only_defined_metrics() -> None:
    defined = consumer_sample_names()
    used = {
        name
        for target in _targets("prometheus")
        for name in re.findall(r"\bsla_pipeline_\w+", target["expr"])
    }
    assert used, "the dashboard shows no pipeline metric"
    assert used <= defined, f"not defined by consumer.metrics: {sorted(used - defined)}"


def _sql_queries() -> list[str]:
    return [t["rawSql"] for t in _targets("grafana-postgresql-datasource")]


def _relations(sql: str) -> set[str]:
    return set(re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", sql, re.IGNORECASE))


def _migrate(url: str) -> sa.Engine:
    result = CliRunner().invoke(cli, ["--database-url", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    return sa.create_engine(url)


def test_dashboard_reads_only_migrated_views(sqlite_url: str) -> None:
    engine = _migrate(sqlite_url)
    try:
        inspector = sa.inspect(engine)
        views = set(inspector.get_view_names())
        existing = views | set(inspector.get_table_names())
    finally:
        engine.dispose()
    assert views >= SLA_VIEWS
    used = set().union(*(_relations(sql) for sql in _sql_queries()))
    assert used >= SLA_VIEWS, "the dashboard should show both SLA views"
    assert used <= existing, f"not created by db upgrade: {sorted(used - existing)}"


def expand_grafana_macros(sql: str) -> str:
    """Grafana's PostgreSQL macros replaced by plain SQL over a wide time range."""
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        r"\1 BETWEEN TIMESTAMPTZ '1970-01-01 00:00:00+00' AND TIMESTAMPTZ '2100-01-01 00:00:00+00'",
        sql,
    )
    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*1d\)", r"date_trunc('day', \1) AS time", sql)
    assert "$" not in sql, f"a Grafana macro this test does not expand: {sql}"
    return sql


def test_expand_grafana_macros() -> None:
    expanded = expand_grafana_macros("SELECT 1 FROM t WHERE $__timeFilter(day)")
    assert expanded.startswith("SELECT 1 FROM t WHERE day BETWEEN TIMESTAMPTZ")


@pytest.mark.integration
def test_dashboard_sql_runs_on_postgresql(pg_database_url: str) -> None:
    """Every panel's SQL runs on a freshly migrated PostgreSQL and answers in its panel's shape.

    With no orders yet, a stat panel's aggregate is one row holding 0 (a count) or NULL
    (a rate over nothing), and the other panels have no rows.
    """
    queries = set(_sql_queries())
    panels = [
        (panel, target["rawSql"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
        if target.get("rawSql") in queries
    ]
    assert len(panels) == len(_sql_queries()) > 0
    engine = _migrate(pg_database_url)
    try:
        with engine.connect() as conn:
            for panel, sql in panels:
                # exec_driver_sql: the literal times hold ':00', which text() would take for binds.
                result = conn.exec_driver_sql(expand_grafana_macros(sql))
                columns, rows = list(result.keys()), [tuple(row) for row in result.fetchall()]
                title = panel.get("title")
                if panel["type"] == "stat":
                    assert len(columns) == 1 and rows in ([(0,)], [(None,)]), (title, rows)
                    continue
                if panel["type"] == "timeseries":  # Grafana plots the other columns over "time"
                    assert columns[0] == "time" and len(columns) > 1, (title, columns)
                assert columns and rows == [], (title, columns, rows)
    finally:
        engine.dispose()

"""``sla-pipeline report`` through the real CLI: formats, shapes, readable failures."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cli.main import cli
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.reporting.aggregate_sql import METRIC_COLUMNS
from infra.reporting.render_json_csv import CSV_COLUMNS
from tests.support.report_data import AS_OF, load, make_orders

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database holding 400 generated orders."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    load(engine, make_orders(seed=2, count=400))
    engine.dispose()
    yield url


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database-url", url, "report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_shape(database_url: str) -> None:
    code, out, _ = run(database_url, "--as-of", AS_OF.isoformat(), "--format", "json",
                       "--by", "carrier", "--by", "day,tier", "--limit", "3")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [
        "schema_version", "as_of", "created_since", "created_until", "newest_order_at",
        "as_of_note", "orders_after_as_of",
        "percentile_method", "totals", "breakdowns", "at_risk",
        "lead_time_histogram",
    ]  # fmt: skip
    assert doc["as_of"] == "2024-03-11T12:00:00.250000Z"
    assert list(doc["totals"]) == list(METRIC_COLUMNS)
    assert [b["by"] for b in doc["breakdowns"]] == [["carrier"], ["day", "tier"]]
    assert list(doc["breakdowns"][1]["rows"][0])[:2] == ["day", "tier"]
    assert len(doc["at_risk"]["orders"]) == 3 and doc["at_risk"]["total"] > 3
    assert sum(b["orders"] for b in doc["lead_time_histogram"]) > 0


def test_csv_shape(database_url: str) -> None:
    code, out, _ = run(database_url, "--as-of", "2024-03-11T12:00:00.25", "--format", "csv",
                       "--by", "region")  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["breakdown"] == "total" and rows[0]["region"] == ""
    regional = [r for r in rows if r["breakdown"] == "region"]
    assert sum(int(r["orders"]) for r in regional) == int(rows[0]["orders"])


def test_table_and_html(database_url: str, tmp_path: pytest.TempPathFactory) -> None:
    code, out, _ = run(database_url, "--as-of", AS_OF.isoformat(), "--by", "tier")
    assert code == 0 and "Delivery SLA report" in out and "By tier" in out
    target = f"{tmp_path}/r.html"
    code, _, _ = run(
        database_url, "--as-of", AS_OF.isoformat(), "--format", "html", "--out", target
    )
    assert code == 0
    with open(target, encoding="utf-8") as page:
        assert page.read().count('<svg class="chart"') == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "yesterday"], "--as-of"),
        (["--by", "colour"], "--by"),
        (["--by", "day,day"], "--by"),
    ],
)
def test_bad_arguments_fail_in_one_line(sqlite_url: str, args: list[str], message: str) -> None:
    code, _, err = run(sqlite_url, *args)
    assert code != 0
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_unmigrated_database_fails_readably(sqlite_url: str) -> None:
    code, _, err = run(sqlite_url)
    assert code == 1 and "db upgrade" in err and "Traceback" not in err

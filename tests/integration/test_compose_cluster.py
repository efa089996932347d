"""The compose route matches the tested route: the Kafka version the tests run, the host
listener following its port, a consumer healthcheck that needs Kafka, Grafana reading
through a read-only role, and the 3-broker override ``compose.cluster.yml``.

Checked without a Docker engine, through ``docker-compose config`` (see test_compose.py).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devservices.kafka_dist import KAFKA_VERSION
from tests.support.compose import ALL_PROFILES, ROOT, compose_binary

# Runs programs the test extras install (docker compose, hadolint) or the CLI.
pytestmark = pytest.mark.tools

CLUSTER_FILE = ROOT / "compose.cluster.yml"
BROKERS = ("kafka", "kafka-2", "kafka-3")
PIPELINE = ("init", "producer", "consumer", "cli")


def resolve(*files: str, **env: str) -> dict[str, dict[str, Any]]:
    """Services of ``docker-compose.yml`` (plus override ``files``) as Compose resolves them."""
    flags = [arg for f in ("docker-compose.yml", *files) for arg in ("-f", str(ROOT / f))]
    flags += [arg for profile in ALL_PROFILES for arg in ("--profile", profile)]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "KAFKA_"))}
    result = subprocess.run(
        [compose_binary(), "--project-directory", str(ROOT), *flags, "config", "--format", "json"],
        capture_output=True, text=True, env={**base, **env}, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services: dict[str, dict[str, Any]] = json.loads(result.stdout)["services"]
    return services


def test_compose_runs_the_kafka_version_the_tests_run() -> None:
    for files in [(), ("compose.cluster.yml",)]:
        services = resolve(*files)
        brokers = [s for s in services.values() if s["image"].startswith("apache/kafka:")]
        assert brokers
        assert {s["image"] for s in brokers} == {f"apache/kafka:{KAFKA_VERSION}"}


@pytest.mark.parametrize("port", ["29092", "39092"])
def test_the_host_listener_is_advertised_on_the_published_port(port: str) -> None:
    kafka = resolve(KAFKA_HOST_PORT=port)["kafka"]
    assert [p["published"] for p in kafka["ports"]] == [port]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"HOST://localhost:{port}" in advertised


def consumer_healthcheck() -> str:
    test: list[str] = resolve()["consumer"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    return test[1]


def test_the_consumer_healthcheck_fails_when_kafka_cannot_be_reached(tmp_path: Path) -> None:
    """The healthcheck's own command line, run here against an address where nothing listens."""
    script = consumer_healthcheck()
    assert script.startswith("sla-pipeline status ") and "9100/metrics" in script
    status_args = shlex.split(script.split(">", 1)[0])[1:]
    env = {
        **os.environ,
        "SLA_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "SLA_DATABASE_URL": f"sqlite:///{tmp_path / 'sla.db'}",
    }
    cli = [sys.executable, "-c", "from cli.main import main; main()"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    done = subprocess.run(
        [*cli, *status_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Kafka" in done.stderr and "127.0.0.1:9" in done.stderr


def test_grafana_reads_postgres_through_a_read_only_role() -> None:
    services = resolve()
    datasources = yaml.safe_load(
        (ROOT / "monitoring/grafana/provisioning/datasources/datasources.yml").read_text()
    )["datasources"]
    postgres = next(d for d in datasources if "postgres" in d["type"])
    assert postgres["user"] == "sla_grafana"
    script = (ROOT / "monitoring/postgres/grafana-reader.sh").read_text()
    assert "CREATE ROLE sla_grafana LOGIN" in script
    grants = [line for line in script.splitlines() if "GRANT" in line]
    assert grants and all("GRANT SELECT" in g or "USAGE" in g or "CONNECT" in g for g in grants)
    mounts = [v["target"] for v in services["postgres"]["volumes"]]
    assert "/docker-entrypoint-initdb.d/grafana-reader.sh" in mounts
    password = services["postgres"]["environment"]["GRAFANA_DB_PASSWORD"]
    assert services["grafana"]["environment"]["SLA_GRAFANA_DB_PASSWORD"] == password
    assert password != services["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_grafana_takes_its_passwords_from_the_environment() -> None:
    services = resolve(GRAFANA_ADMIN_PASSWORD="s3cret-admin", GRAFANA_DB_PASSWORD="s3cret-ro")
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "s3cret-admin"
    assert grafana["SLA_GRAFANA_DB_PASSWORD"] == "s3cret-ro"
    assert services["postgres"]["environment"]["GRAFANA_DB_PASSWORD"] == "s3cret-ro"


def test_the_cluster_override_runs_three_brokers_in_one_quorum() -> None:
    services = resolve("compose.cluster.yml")
    envs = [services[name]["environment"] for name in BROKERS]
    assert sorted(str(env["KAFKA_NODE_ID"]) for env in envs) == ["1", "2", "3"]
    assert len({env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in envs}) == 1
    assert len({env["CLUSTER_ID"] for env in envs}) == 1
    voters = envs[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == ["1@kafka:9093", "2@kafka-2:9093", "3@kafka-3:9093"]
    for env in envs:
        assert str(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "3"
        assert str(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == "2"
    for name in PIPELINE:
        bootstrap = services[name]["environment"]["SLA_KAFKA_BOOTSTRAP_SERVERS"]
        assert bootstrap == "kafka:9092,kafka-2:9092,kafka-3:9092", name
        assert services[name]["environment"]["SLA_DATABASE_URL"].startswith("postgresql")
    assert set(BROKERS) <= set(services["init"]["depends_on"])
    for name in BROKERS:
        assert services[name]["healthcheck"]["test"], name
    # only the first broker is published on the host, and on loopback
    published = [p for name in BROKERS for p in services[name].get("ports", [])]
    assert len(published) == 1 and published[0]["host_ip"] == "127.0.0.1"

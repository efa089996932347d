"""The real CLI on the real services: quiet success, and a refused login told apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from sqlalchemy.engine import make_url

from tests.support.cli import error_line, run


@pytest.fixture
def new_topics(kafka_admin: AdminClient, unique_id: str) -> Iterator[dict[str, str]]:
    """Names of four topics that do not exist yet; deleted after the test."""
    names = {k: f"cli-{unique_id}-{k[10:].lower()}" for k in ("SLA_TOPIC_ORDER_CREATED",
             "SLA_TOPIC_STATUS_CHANGED", "SLA_TOPIC_DLQ", "SLA_TOPIC_ALERTS")}  # fmt: skip
    yield names
    existing = kafka_admin.list_topics(timeout=30).topics
    doomed = [n for n in names.values() if n in existing]
    for future in (
        kafka_admin.delete_topics(doomed, operation_timeout=30).values() if doomed else ()
    ):
        future.result(timeout=60)


def test_topics_create_prints_only_its_own_lines(
    tmp_path: Path, kafka_bootstrap: str, new_topics: dict[str, str]
) -> None:
    env = {"SLA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, **new_topics}
    done = run(tmp_path, "topics", "create", "--partitions", "1", **env)
    assert done.returncode == 0, done.stderr
    durability = "replication 1, min.insync.replicas the broker's"  # one broker found
    lines = [f"{name}: created" for name in new_topics.values()]
    assert done.stdout.splitlines() == [durability, *lines]
    assert "%" not in done.stderr and "BGQUEUE" not in done.stderr  # no librdkafka lines
    again = run(tmp_path, "topics", "create", **env)
    lines = [f"{name}: exists" for name in new_topics.values()]
    assert again.stdout.splitlines() == [durability, *lines]


@pytest.mark.parametrize("command", [["report"], ["db", "upgrade"]])
def test_a_refused_login_names_the_database_not_the_migrations(
    tmp_path: Path, pg_database_url: str, command: list[str]
) -> None:
    wrong = make_url(pg_database_url).set(password="not-the-password")
    url = wrong.render_as_string(hide_password=False)
    line = error_line(run(tmp_path, *command, SLA_DATABASE_URL=url))
    masked = wrong.render_as_string(hide_password=True)
    assert line.startswith(f"error: cannot connect to the database at {masked}: ")
    assert "password authentication failed" in line
    assert "db upgrade" not in line and "not-the-password" not in line

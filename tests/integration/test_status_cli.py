"""``sla-pipeline status`` through the real CLI on real Kafka, SQLite and PostgreSQL:
healthy after a full run, degraded by lag or by offsets that cannot match the topic,
unreachable (exit 2, one line) when a service does not answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from sqlalchemy import text

from infra.db.engine import make_engine
from infra.settings import Settings
from tests.integration import crafted_events as crafted
from tests.support.dead_letters import make_settings, sla

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    group_id: str,
    tmp_path: Path,
) -> Settings:
    """The crafted stream plus one malformed message, consumed to the end."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_database_url")
    settings = make_settings(url, kafka_bootstrap, topic_factory, group_id)
    assert sla(settings, "db", "upgrade")[0] == 0
    path = crafted.write(tmp_path / "all.jsonl")
    code, _, err = sla(settings, "replay", str(path), "--rejects", str(tmp_path / "r.jsonl"))
    assert code == 0, err
    _send(settings, 1, b"{not json")
    code, _, err = sla(settings, "consume", "--until-idle", "2")
    assert code == 0, err
    return settings


def _send(settings: Settings, count: int, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for _ in range(count):
        producer.produce(settings.topic_order_created, key=b"k", value=value)
    assert producer.flush(30) == 0


def _status(settings: Settings, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = sla(settings, "status", "--format", "json", *args)
    assert code in (0, 1), err
    doc: dict[str, Any] = json.loads(out)
    return code, doc


def test_healthy_after_consuming_everything(settings: Settings) -> None:
    events = len(crafted.events()) + 1  # the malformed one is read (and dead-lettered) too
    code, doc = _status(settings)
    assert code == 0 and doc["state"] == "healthy" and doc["problems"] == []
    assert doc["lag"] == 0 and sum(p["end_offset"] for p in doc["partitions"]) == events
    for p in doc["partitions"]:
        assert p["kafka_committed"] == p["database_next_offset"] == p["end_offset"]
    assert sum(doc["dead_letters"].values()) == 1 and doc["dead_letters_complete"]
    assert doc["awaiting_creation"] == 0 and doc["illegal_transitions"] == 0
    assert doc["at_risk"] == 0 and doc["breached"] == 0  # every crafted order has ended
    newest = max(str(e["occurred_at"]) for e in crafted.events())
    assert doc["newest_event_at"].replace(".000000", "").replace("Z", "") == newest.rstrip("Z")
    code, out, _ = sla(settings, "status", "--no-sla")
    assert code == 0 and "healthy" in out and "not counted" in out


def test_degraded_by_lag_age_and_offsets(settings: Settings) -> None:
    _send(settings, 5, b"{}")
    code, doc = _status(settings, "--max-lag", "4", "--no-sla")
    assert code == 1 and doc["lag"] == 5 and "lag 5 messages is above 4" in doc["problems"]
    assert _status(settings, "--max-lag", "5", "--no-sla")[0] == 0
    code, doc = _status(settings, "--max-lag", "5", "--max-event-age", "60", "--no-sla")
    assert code == 1 and "newest event is" in doc["problems"][0]
    engine = make_engine(settings.database_url_value())
    with engine.begin() as conn:
        conn.execute(text("UPDATE consumer_offsets SET next_offset = next_offset + 1000"))
    engine.dispose()
    code, doc = _status(settings, "--max-lag", "100000", "--no-sla")
    assert code == 1 and any("is past the end" in p for p in doc["problems"])


def test_unreachable_names_the_service(settings: Settings) -> None:
    code, out, err = sla(
        settings, "status", "--timeout", "1", SLA_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"
    )
    assert code == 2 and out == "" and err.startswith("unreachable: Kafka at 127.0.0.1:1")
    assert err.count("\n") == 1
    dead_db = "postgresql+psycopg://u:p@127.0.0.1:1/none"
    code, out, err = sla(settings, "status", "--timeout", "1", SLA_DATABASE_URL=dead_db)
    assert code == 2 and err.startswith("unreachable: cannot connect to the database")
    assert err.count("\n") == 1

"""Scenario 10, strict wire contract: values that parse but break the contract (times that
leave 1970..2199 once in UTC, ``schema_version`` true or 1.0, Unix times, a key twice in
one object, no ``event_type``, no message key), each sent just before a valid event of
the same order. On real Kafka with a real worker on PostgreSQL, and through
``sla-pipeline ingest`` of CSV and JSONL files on SQLite and PostgreSQL: every hostile
message is dead-lettered (or written to the rejects file) with its exact reason, every
valid event is applied (the next event of the same order too), and ``sla-pipeline db
verify`` passes afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from domain.codec import RejectReason, encode_event, event_to_json_dict
from domain.events import Event, OrderCreated
from infra.bootstrap import migrated_engine
from infra.db.snapshot import describe_differences
from infra.kafka.dead_letters import read_dead_letters
from infra.settings import Settings
from producer.files import ORDER_COLUMNS, SEQ, UPDATE_COLUMNS
from producer.simulation import SimulationConfig, simulate
from tests.faults.helpers import (
    SLA_PIPELINE,
    database_snapshot,
    fully_committed,
    oracle_snapshot,
    report_figures,
    wait_until,
)
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
R = RejectReason
ORDERS = 60


@dataclass(frozen=True)
class Case:
    """One way to break the contract: the field, the value written there, the reason."""

    name: str
    field: str
    value: Any  # the JSON value (a CSV cell is its text)
    reason: RejectReason
    in_csv: bool = True  # some breakages have no CSV form (a header names each field once)


CASES = [
    Case("time-9999-west", "occurred_at", "9999-12-31T23:59:59-12:00", R.TIME_OUT_OF_RANGE),
    Case("time-0001-east", "occurred_at", "0001-01-01T00:00:00+14:00", R.TIME_OUT_OF_RANGE),
    Case("time-before-1970", "occurred_at", "1969-12-31T23:59:59.999999Z", R.TIME_OUT_OF_RANGE),
    Case("promise-2200", "promised_delivery_at", "2200-01-01T00:00:00Z", R.TIME_OUT_OF_RANGE),
    Case("schema-true", "schema_version", True, R.UNSUPPORTED_SCHEMA_VERSION),
    Case("schema-float", "schema_version", 1.0, R.UNSUPPORTED_SCHEMA_VERSION),
    Case("unix-text", "occurred_at", "1736157600", R.INVALID_FIELD),
    Case("unix-number", "occurred_at", 1736157600, R.INVALID_FIELD, in_csv=False),
    Case("duplicate-key", "order_id", None, R.DUPLICATE_JSON_KEY, in_csv=False),
    Case("no-event-type", "event_type", None, R.MISSING_FIELD, in_csv=False),
]


@dataclass(frozen=True)
class Hostile:
    case: Case
    template: Event  # the valid event it copies; sent after it, same order and topic
    doc: dict[str, Any]  # the copy as a JSON object (a fresh event_id, ``field`` set)
    value: bytes  # the message value / JSONL line


def _hostile(case: Case, template: Event, rng: random.Random) -> Hostile:
    doc = event_to_json_dict(template)
    doc["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if case.name == "no-event-type":
        del doc["event_type"]
        return Hostile(case, template, doc, json.dumps(doc).encode())
    if case.name == "duplicate-key":  # the order named twice: the second one would win
        value = json.dumps(doc)[:-1] + ', "order_id": "ORD-SOMEONE-ELSE"}'
        return Hostile(case, template, doc, value.encode())
    doc[case.field] = case.value
    return Hostile(case, template, doc, json.dumps(doc).encode())


def scenario(seed: int, cases: list[Case]) -> tuple[list[Event], list[Hostile]]:
    """Simulated valid events and one hostile copy per case, each of a different order."""
    rng = random.Random(seed)
    events = simulate(SimulationConfig(orders=ORDERS, seed=seed))
    orders = sorted({e.order_id for e in events})
    rng.shuffle(orders)
    hostile: list[Hostile] = []
    for case, order_id in zip(cases, orders, strict=False):
        own = [e for e in events if e.order_id == order_id]
        if case.field == "promised_delivery_at":  # only a creation carries a promise
            own = [e for e in own if isinstance(e, OrderCreated)]
        hostile.append(_hostile(case, rng.choice(own), rng))
    return events, hostile


def interleaved(events: list[Event], hostile: list[Hostile]) -> list[Event | Hostile]:
    """``events`` in order, each hostile copy just before the valid event it copies."""
    before = {h.template.event_id: h for h in hostile}
    out: list[Event | Hostile] = []
    for event in events:
        if event.event_id in before:
            out.append(before[event.event_id])
        out.append(event)
    return out


def sla(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env["SLA_DATABASE_URL"] = database_url
    return subprocess.run(
        [*SLA_PIPELINE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def check_verify(database_url: str, cwd: Path) -> None:
    verified = sla(database_url, "db", "verify", cwd=cwd)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "sales matches order_history" in verified.stdout


def test_a_worker_dead_letters_each_breach_and_applies_the_next_event(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    events, hostile = scenario(seed, CASES)
    keyless = event_to_json_dict(events[-1]) | {"event_id": str(uuid.uuid4())}
    topic = {"order-created": settings.topic_order_created}
    producer = Producer({**settings.kafka_client_config(), "enable.idempotence": True})
    for item in interleaved(events, hostile):
        event = item.template if isinstance(item, Hostile) else item
        value = item.value if isinstance(item, Hostile) else encode_event(item)
        target = topic.get(event.event_type, settings.topic_status_changed)
        producer.produce(target, value, event.order_id.encode())
    no_key = json.dumps(keyless).encode()
    producer.produce(settings.topic_status_changed, no_key, None)
    assert producer.flush(30) == 0

    engine = migrated_engine(settings)
    worker = WorkerThread(settings, engine).start()
    assert wait_until(lambda: fully_committed(settings), 150)
    assert worker.alive  # never stopped by what it read
    worker.stop()
    summary = worker.join()
    engine.dispose()
    assert summary.consumed == len(events) + len(hostile) + 1

    got = database_snapshot(pg_database_url)
    assert describe_differences(oracle_snapshot(events, tmp_path / "o.db"), got) == []
    after = {str(h.template.event_id) for h in hostile}  # the event after each breach
    assert after <= {str(event_id) for event_id in got["order_history"]}
    letters: dict[tuple[str, int, int], tuple[bytes, str]] = {}
    for letter in read_dead_letters(settings.kafka_client_config(), settings.topic_dlq):
        assert letter.source is not None
        source = (letter.source.topic, letter.source.partition, letter.source.offset)
        letters[source] = (letter.value or b"", letter.reason)
    expected = Counter((h.value, h.case.reason.value) for h in hostile)
    expected[(no_key, R.MISSING_KEY.value)] += 1
    assert Counter(letters.values()) == expected
    counted = worker.metrics.value("sla_pipeline_events_dead_lettered_total", reason="missing_key")
    assert counted == 1
    check_verify(pg_database_url, tmp_path)
    report_figures(
        "strict-wire-kafka",
        applied=summary.outcome.applied,
        dead_letters=len(letters),
        seconds=round(time.monotonic() - started, 1),
    )


def _csv_row(doc: dict[str, Any]) -> dict[str, str]:
    cells = {k: "" if v is None else str(v) for k, v in doc.items()}
    if isinstance(doc.get("schema_version"), bool):  # JSON's spelling, as a CSV cell
        cells["schema_version"] = json.dumps(doc["schema_version"])
    return cells


def write_jsonl(events: list[Event], hostile: list[Hostile], out: Path) -> dict[str, str]:
    """A JSONL file of ``events`` and the hostile lines; ``file:line`` -> expected reason."""
    path, expected = out / "events.jsonl", {}
    with path.open("wb") as handle:
        for line, item in enumerate(interleaved(events, hostile), start=1):
            if isinstance(item, Hostile):
                expected[f"{path}:{line}"] = item.case.reason.value
            handle.write((item.value if isinstance(item, Hostile) else encode_event(item)) + b"\n")
    return expected


def write_csv(events: list[Event], hostile: list[Hostile], out: Path) -> dict[str, str]:
    """Both CSV files (no ``publish_seq``: read one after the other), as :func:`write_jsonl`."""
    expected: dict[str, str] = {}
    for name, columns, kind in (
        ("orders.csv", ORDER_COLUMNS, "order-created"),
        ("updates.csv", UPDATE_COLUMNS, "status-changed"),
    ):
        path = out / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            fields = [c for c in columns if c != SEQ]
            writer = csv.DictWriter(handle, fields, extrasaction="ignore")  # event_type: the file
            writer.writeheader()
            line = 1
            for item in interleaved(events, [h for h in hostile if h.case.in_csv]):
                event = item.template if isinstance(item, Hostile) else item
                if event.event_type == kind:
                    line += 1
                    if isinstance(item, Hostile):
                        expected[f"{path}:{line}"] = item.case.reason.value
                    doc = item.doc if isinstance(item, Hostile) else event_to_json_dict(item)
                    writer.writerow(_csv_row(doc))
    return expected


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ingest_rejects_each_breach_and_applies_the_other_rows(
    request: pytest.FixtureRequest, backend: str, file_format: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_database_url"))
    events, hostile = scenario(seed, CASES)
    if file_format == "jsonl":
        expected, files = write_jsonl(events, hostile, tmp_path), ["events.jsonl"]
    else:
        expected, files = write_csv(events, hostile, tmp_path), ["orders.csv", "updates.csv"]
    assert len(expected) == sum(file_format == "jsonl" or h.case.in_csv for h in hostile)
    rejects = tmp_path / "rejects.jsonl"
    paths = [str(tmp_path / name) for name in files]
    done = sla(url, "ingest", "--rejects", str(rejects), *paths, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    got = {row["where"]: row["reason"] for row in map(json.loads, rejects.read_text().splitlines())}
    assert got == expected
    assert f"{len(events)} events applied" in done.stdout
    snapshot = database_snapshot(url)
    assert describe_differences(oracle_snapshot(events, tmp_path / "o.db"), snapshot) == []
    check_verify(url, tmp_path)
    report_figures(
        f"strict-wire-ingest-{backend}-{file_format}",
        applied=len(events),
        rejected=len(expected),
        seconds=round(time.monotonic() - started, 1),
    )

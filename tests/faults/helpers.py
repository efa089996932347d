"""Shared pieces of the fault scenarios: streams, publishing, workers, oracles, figures.

Every wait here is bounded by a deadline; a scenario that does not converge fails
with what it saw instead of hanging.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from consumer.embedded import ingest_events
from consumer.retry import Backoff
from domain.events import Event
from infra.bootstrap import unit_of_work_factory
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.snapshot import describe_differences, snapshot
from infra.kafka.dead_letters import read_dead_letters
from infra.kafka.producer import DeliveryCounter, build_producer, drain, send
from infra.settings import Settings
from producer.faults import FaultConfig, FaultedStream, inject_faults
from producer.messages import OutgoingMessage
from producer.simulation import SimulationConfig, simulate
from tests.faults.reference_check import reference_differences
from tests.support.pipeline import settings_env

SLA_PIPELINE = [sys.executable, "-c", "from cli.main import main; main()"]
NO_RETENTION = {"retention.ms": "-1"}  # simulated event times lie in the past
PARTITIONS = 3
REPORT_ENV = "SLA_FAULTS_REPORT"
#: A short backoff keeps the time between "service is back" and "worker resumes" small.
QUICK_BACKOFF = Backoff(base_s=0.1, factor=2.0, cap_s=1.0)
Snapshot = dict[str, dict[str, tuple[Any, ...]]]


#: The realistic mix of faults that the crash and rebalance scenarios stream.
MIXED_FAULTS: dict[str, float] = {
    "duplicate_rate": 0.05,
    "reorder_rate": 0.10,
    "late_rate": 0.03,
    "orphan_rate": 0.05,
    "malformed_rate": 0.01,
    "illegal_rate": 0.02,
}


def faulted_stream(orders: int, seed: int, **rates: float) -> FaultedStream:
    """Simulated orders with the given fault rates (deterministic for a seed)."""
    events = simulate(SimulationConfig(orders=orders, seed=seed))
    return inject_faults(events, FaultConfig.from_rates(rates), seed)


def pipeline_settings(
    database_url: str, bootstrap: str, topic_factory: Callable[..., str], group: str
) -> Settings:
    """Settings on fresh topics (3 partitions each, a one-partition DLQ)."""
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        topic_order_created=topic_factory(
            "order-created", partitions=PARTITIONS, config=NO_RETENTION
        ),
        topic_status_changed=topic_factory(
            "status-changed", partitions=PARTITIONS, config=NO_RETENTION
        ),
        topic_dlq=topic_factory("dlq", partitions=1, config=NO_RETENTION),
        consumer_group=group,
        batch_size=250,
        batch_wait_s=0.2,
    )


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``sla-pipeline consume`` process for ``settings``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return {**inherited, **settings_env(settings, **extra)}


class Publisher:
    """One idempotent producer for a whole scenario (it may outlive a broker outage)."""

    def __init__(self, settings: Settings) -> None:
        self.counter = DeliveryCounter()
        self._producer: Producer = build_producer(settings.kafka_client_config(), self.counter)
        self._topics = {
            "order-created": settings.topic_order_created,
            "status-changed": settings.topic_status_changed,
        }

    def send(self, messages: Iterable[OutgoingMessage]) -> None:
        for m in messages:
            send(self._producer, self._topics[m.topic_kind], m.key, m.value, m.timestamp_ms)
        self._producer.poll(0)

    def drain(self, timeout_s: float = 120.0) -> None:
        """Wait for every delivery; AssertionError if any is missing or failed."""
        assert drain(self._producer, timeout_s) == 0, "messages still unconfirmed"
        assert self.counter.failed == 0, self.counter.errors


def publish(settings: Settings, messages: Sequence[OutgoingMessage]) -> None:
    publisher = Publisher(settings)
    publisher.send(messages)
    publisher.drain()


def publish_gradually(
    settings: Settings, messages: Sequence[OutgoingMessage], chunks: int, pause_s: float
) -> threading.Thread:
    """Publish ``messages`` in ``chunks`` slices ``pause_s`` apart, in a thread (started)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            publisher = Publisher(settings)
            size = max(1, -(-len(messages) // chunks))
            for start in range(0, len(messages), size):
                publisher.send(messages[start : start + size])
                time.sleep(pause_s)
            publisher.drain()
        except BaseException as error:  # reported by the scenario through .errors
            errors.append(error)

    thread = threading.Thread(target=run, name="publisher", daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def oracle_snapshot(valid_events: Sequence[Event], sqlite_path: Path) -> Snapshot:
    """``valid_events`` ingested in order through the same apply path, in SQLite."""
    engine = make_engine(f"sqlite:///{sqlite_path}")
    upgrade(engine)
    ingest_events(valid_events, unit_of_work_factory(engine), batch_size=2000)
    try:
        with engine.connect() as conn:
            return snapshot(conn)
    finally:
        engine.dispose()


def assert_final_database(
    database_url: str,
    stream: FaultedStream,
    oracle_path: Path,
    sent: Sequence[tuple[bytes | None, bytes | None]] | None = None,
) -> Snapshot:
    """The final database equals both oracles; returns its snapshot.

    1. ``stream.valid_events`` applied in order on SQLite by the same apply path: catches
       whatever the faults (disorder, crashes, outages) did to the result.
    2. The reference model of the messages ``sent`` (``(key, value)``, default: the
       stream's), written from the docs alone (``tests.faults.reference``): catches a
       bug of the apply path itself, which the first oracle shares.
    """
    got = database_snapshot(database_url)
    assert describe_differences(oracle_snapshot(stream.valid_events, oracle_path), got) == []
    messages = sent if sent is not None else [(m.key, m.value) for m in stream.messages]
    assert reference_differences(database_url, messages) == []
    return got


@contextmanager
def fresh_database(server_url: str, prefix: str = "faults") -> Iterator[str]:
    """The URL of a new database on the PostgreSQL server of ``server_url``, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_snapshot(database_url: str) -> Snapshot:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return snapshot(conn)
    finally:
        engine.dispose()


def history_count(engine: Engine) -> int:
    """Rows in ``order_history``; -1 while the database cannot be read."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM order_history")).scalar_one())
    except Exception:  # not migrated yet, or the server is down: "not there yet"
        return -1


@dataclass(frozen=True)
class DeadLetterCheck:
    distinct: int
    total: int


def check_dead_letters(
    settings: Settings, stream: FaultedStream, extra: Iterable[tuple[bytes, str]] = ()
) -> DeadLetterCheck:
    """The DLQ holds every malformed message (and ``extra`` ``(value, reason)``), nothing else.

    Delivery to the DLQ is at-least-once (a replayed batch dead-letters again), so
    letters are counted once per source position; AssertionError on any difference.
    """
    letters = list(read_dead_letters(settings.kafka_client_config(), settings.topic_dlq))
    by_source: dict[tuple[str, int, int], tuple[bytes, str]] = {}
    for letter in letters:
        assert letter.source is not None, f"{letter.position}: no source headers"
        source = (letter.source.topic, letter.source.partition, letter.source.offset)
        pair = (letter.value or b"", letter.reason)
        assert by_source.setdefault(source, pair) == pair, f"{source} dead-lettered differently"
    got = Counter(by_source.values())
    expected = Counter(
        (m.value, m.expected_reason.value) for m in stream.malformed if m.expected_reason
    )
    expected.update(extra)
    assert got == expected, f"unexpected {got - expected}, missing {expected - got}"
    return DeadLetterCheck(distinct=len(by_source), total=len(letters))


def committed(settings: Settings) -> dict[tuple[str, int], int]:
    """The group's committed offsets of every event partition (-1001 when none)."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": settings.consumer_group})
    tps = [TopicPartition(t, p) for t in settings.topics for p in range(PARTITIONS)]
    try:
        for attempt in range(10):  # the coordinator may still be loading (fresh or restarted)
            try:
                found = consumer.committed(tps, timeout=30)
                return {(tp.topic, tp.partition): tp.offset for tp in found}
            except KafkaException:
                if attempt == 9:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")
    finally:
        consumer.close()


def ends(settings: Settings) -> dict[tuple[str, int], int]:
    """High watermarks of every event partition."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "faults-watermarks"})
    try:
        return {
            (t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=30)[1]
            for t in settings.topics
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()


def fully_committed(settings: Settings) -> bool:
    high = ends(settings)
    got = committed(settings)
    return all(got[k] == v for k, v in high.items() if v > 0)


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.3) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passes; returns the last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def report_figures(scenario: str, **figures: Any) -> dict[str, Any]:
    """Print ``FAULTS scenario=... k=v`` and append the figures to ``$SLA_FAULTS_REPORT``."""
    record = {"scenario": scenario, **figures}
    print("FAULTS " + " ".join(f"{k}={v}" for k, v in record.items()), flush=True)
    if path := os.environ.get(REPORT_ENV):
        report = Path(path)
        existing: list[Any] = []
        if report.exists() and report.stat().st_size:
            existing = json.loads(report.read_text())
        existing.append(record)
        report.write_text(json.dumps(existing, indent=2) + "\n")
    return record


def scenario_seed() -> int:
    """``$SLA_FAULTS_SEED`` when set (to replay a run), else a fresh random seed."""
    return int(os.environ.get("SLA_FAULTS_SEED") or random.randrange(1, 1_000_000))

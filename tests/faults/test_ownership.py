"""Partition ownership: recreated topics, phantom lag after a seek, conflicting event ids.

- Topics deleted and recreated while the database keeps its offsets: the new topic's
  events are all applied (the old offsets are never used to skip), with a warning.
- After a worker starts at the database's offsets (ahead of Kafka's), Kafka's
  committed offsets follow at once, with no new message needed.
- An ``event_id`` reused with other content is dead-lettered as
  ``conflicting_duplicate`` (in a later batch and within one batch); the stored
  version stays; a true duplicate stays a quiet duplicate.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import Engine, text

from domain.codec import RejectReason
from infra.bootstrap import migrated_engine
from infra.db.snapshot import describe_differences
from infra.kafka.dead_letters import read_dead_letters
from infra.settings import Settings
from producer.faults import FaultedStream
from producer.messages import OutgoingMessage
from tests.faults.helpers import (
    NO_RETENTION,
    PARTITIONS,
    committed,
    database_snapshot,
    ends,
    faulted_stream,
    oracle_snapshot,
    publish,
    report_figures,
    wait_until,
)
from tests.faults.reference_check import reference_differences
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


def _recreate(admin: AdminClient, topics: list[str]) -> None:
    """Delete ``topics`` and create them again under the same names (new topic ids)."""
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        future.result(timeout=60)
    pending = list(topics)
    deadline = time.monotonic() + 60
    while pending:  # creation fails while the deletion is still being carried out
        assert time.monotonic() < deadline, f"could not recreate {pending}"
        new = [NewTopic(t, PARTITIONS, 1, config=NO_RETENTION) for t in pending]
        for name, future in admin.create_topics(new, operation_timeout=30).items():
            try:
                future.result(timeout=60)
                pending.remove(name)
            except KafkaException:
                time.sleep(0.5)
    for topic in topics:
        assert wait_until(
            lambda t=topic: all(  # type: ignore[misc]
                p.leader >= 0
                for p in admin.list_topics(topic=t, timeout=5).topics[t].partitions.values()
            ),
            30,
        )


def _run_until_idle(settings: Settings, engine: Engine, idle_s: float = 3.0) -> WorkerThread:
    worker = WorkerThread(settings, engine, until_idle_s=idle_s).start()
    worker.join(120)
    return worker


def test_recreated_topics_never_skip_the_new_topics_events(
    settings_for: Callable[[str], Settings],
    pg_database_url: str,
    kafka_admin: AdminClient,
    seed: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    engine = migrated_engine(settings)
    first = faulted_stream(600, seed, duplicate_rate=0.02)
    publish(settings, first.messages)
    _run_until_idle(settings, engine)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT max(next_offset) FROM consumer_offsets")).scalar_one()
    assert before > 0

    # a new cluster or a lost volume: same names, new topics, fewer events than before
    _recreate(kafka_admin, list(settings.topics))
    second = faulted_stream(200, seed + 1, duplicate_rate=0.02)
    publish(settings, second.messages)
    with caplog.at_level(logging.WARNING, logger="infra.kafka.consumer"):
        summary = _run_until_idle(settings, engine).summary
    assert summary is not None
    stale = [r.getMessage() for r in caplog.records if "not starting at the database" in r.message]
    assert stale, "no warning about the stale offsets"
    assert all("recreated" in line or "beyond" in line for line in stale)

    expected = oracle_snapshot([*first.valid_events, *second.valid_events], tmp_path / "o.db")
    got = database_snapshot(pg_database_url)
    assert describe_differences(expected, got) == []
    # and the reference written from the docs, over every message of both topics' lives
    sent = [(m.key, m.value) for m in (*first.messages, *second.messages)]
    assert reference_differences(pg_database_url, sent) == []
    high = ends(settings)
    assert all(committed(settings)[k] == v for k, v in high.items() if v > 0)
    engine.dispose()
    report_figures(
        "recreated_topics",
        events_before=len(first.valid_events),
        events_after=len(second.valid_events),
        messages_after=len(second.messages),
        applied_after=summary.outcome.applied,
        duplicates_after=summary.outcome.duplicates,
        stale_partitions=len(stale),
        seconds=round(time.monotonic() - started, 1),
    )


def _applied_stream(settings: Settings, orders: int, seed: int) -> tuple[Engine, FaultedStream]:
    """A stream published and applied by a worker run until idle."""
    engine = migrated_engine(settings)
    stream = faulted_stream(orders, seed)
    publish(settings, stream.messages)
    _run_until_idle(settings, engine)
    return engine, stream


def test_kafka_offsets_follow_the_database_at_once_after_a_seek(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int
) -> None:
    settings = settings_for(pg_database_url)
    engine, _ = _applied_stream(settings, 300, seed)
    high = ends(settings)
    # Kafka forgets the group's progress (as after a crash between the two commits)
    rewound = Consumer({**settings.kafka_client_config(), "group.id": settings.consumer_group})
    rewound.commit(
        offsets=[TopicPartition(t, p, 0) for (t, p), end in high.items() if end > 0],
        asynchronous=False,
    )
    rewound.close()
    assert all(v == 0 for k, v in committed(settings).items() if high[k] > 0)

    worker = WorkerThread(settings, engine).start()
    try:
        # no new message arrives: only the seek itself can move Kafka's offsets
        caught_up = wait_until(
            lambda: all(committed(settings)[k] == v for k, v in high.items() if v > 0), 30
        )
    finally:
        worker.stop()
        summary = worker.join(60)
    assert caught_up, f"committed {committed(settings)} != ends {high}"
    assert summary.consumed == 0  # nothing was read again
    engine.dispose()


def _status_change(order_id: str, event_id: str, status: str, at: str) -> OutgoingMessage:
    value = json.dumps(
        {
            "event_id": event_id,
            "event_type": "status-changed",
            "schema_version": 1,
            "order_id": order_id,
            "occurred_at": at,
            "status": status,
        }
    ).encode()
    return OutgoingMessage("status-changed", order_id.encode(), value, int(time.time() * 1000))


def test_an_event_id_reused_with_other_content_is_dead_lettered(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int
) -> None:
    settings = settings_for(pg_database_url)
    engine, stream = _applied_stream(settings, 50, seed)

    order = stream.valid_events[0].order_id
    stored, same_batch = str(uuid4()), str(uuid4())
    original = _status_change(order, stored, "approved", "2025-01-06T10:00:00+00:00")
    publish(settings, [original])
    _run_until_idle(settings, engine)
    # later batch: same id, other content; same id and content in another form: quiet
    conflicting = _status_change(order, stored, "cancelled", "2025-01-06T11:00:00+00:00")
    same_again = _status_change(order, stored, "approved", "2025-01-06T11:00:00+01:00")
    # within one batch: the first copy is kept, the second conflicts
    kept = _status_change(order, same_batch, "packed", "2025-01-06T12:00:00+00:00")
    clashing = _status_change(order, same_batch, "lost", "2025-01-06T12:00:00+00:00")
    publish(settings, [conflicting, same_again, kept, clashing])
    worker = WorkerThread(settings, engine, until_idle_s=3).start()
    summary = worker.join(120)

    assert summary.outcome.conflicting == 2
    assert worker.metrics.conflicting._value.get() == 2
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT event_id, status FROM order_history WHERE event_id IN (:a, :b)"),
                {"a": stored, "b": same_batch},
            ).all()
        )
    assert rows == {stored: "approved", same_batch: "packed"}
    letters = [
        letter
        for letter in read_dead_letters(settings.kafka_client_config(), settings.topic_dlq)
        if letter.reason == RejectReason.CONFLICTING_DUPLICATE.value
    ]
    assert sorted(letter.value or b"" for letter in letters) == sorted(
        [conflicting.value, clashing.value]
    )
    assert all(letter.source is not None for letter in letters)
    assert all(stored in letter.error or same_batch in letter.error for letter in letters)
    engine.dispose()
    report_figures(
        "conflicting_duplicates",
        sent=4,
        applied=summary.outcome.applied,
        quiet_duplicates=summary.outcome.duplicates,
        dead_letters=len(letters),
    )

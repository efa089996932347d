"""Scenario 6, poison flood: 1% malformed messages of every kind the generator makes,
oversized ones, and hand-made poison the generator cannot make (no key, a tombstone,
binary noise, bare JSON values, deep nesting). Every one lands in the DLQ with the
right reason code, every valid event is applied, and the worker never stops.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer

from domain.codec import RejectReason
from domain.events import MAX_EVENT_BYTES
from infra.bootstrap import migrated_engine
from infra.settings import Settings
from producer.faults import FaultedStream
from tests.faults.helpers import (
    assert_final_database,
    check_dead_letters,
    faulted_stream,
    fully_committed,
    publish,
    report_figures,
    wait_until,
)
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
ORDERS = 3000
R = RejectReason


def hand_made_poison(stream: FaultedStream) -> list[tuple[bytes | None, bytes | None, R]]:
    """``(key, value, expected reason)`` of messages the fault generator never makes."""
    valid = next(m for m in stream.messages if m.fault is None)
    return [
        (None, valid.value, R.MISSING_KEY),  # a valid event without a key
        (valid.key, None, R.INVALID_JSON),  # a tombstone
        (valid.key, b"", R.INVALID_JSON),
        (valid.key, bytes(range(256)), R.NOT_UTF8),
        (valid.key, b"42", R.NOT_AN_OBJECT),
        (valid.key, b"null", R.NOT_AN_OBJECT),
        (valid.key, b"{}", R.MISSING_FIELD),  # no event_type
        (valid.key, b"[" * 5000 + b"]" * 5000, R.INVALID_JSON),
        (valid.key, b"{" * (MAX_EVENT_BYTES + 1), R.OVERSIZED),
        (valid.key, valid.value + b"trailing", R.INVALID_JSON),
        (valid.key, b"\xef\xbb\xbf" + valid.value, R.INVALID_JSON),  # a UTF-8 BOM
    ]


def test_every_poison_message_is_dead_lettered_with_its_reason(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    stream = faulted_stream(
        ORDERS, seed, malformed_rate=0.01, oversized_rate=0.005, duplicate_rate=0.02
    )
    poison = hand_made_poison(stream)
    engine = migrated_engine(settings)
    publish(settings, stream.messages)
    producer = Producer(settings.kafka_client_config())
    for key, value, _reason in poison:
        producer.produce(settings.topic_status_changed, value=value, key=key)
    assert producer.flush(30) == 0

    worker = WorkerThread(settings, engine).start()
    assert wait_until(lambda: fully_committed(settings), 150)
    assert worker.alive  # never stopped by what it read
    worker.stop()
    summary = worker.join()
    engine.dispose()
    assert summary.consumed == len(stream.messages) + len(poison)
    sent = [(m.key, m.value) for m in stream.messages] + [(k, v) for k, v, _ in poison]
    got = assert_final_database(pg_database_url, stream, tmp_path / "o.db", sent)
    assert len(got["order_history"]) == len(stream.valid_events)

    extra = [(value or b"", reason.value) for _key, value, reason in poison]
    letters = check_dead_letters(settings, stream, extra)
    expected = Counter(m.expected_reason.value for m in stream.malformed if m.expected_reason)
    expected.update(reason for _value, reason in extra)
    # every kind decoding gives was exercised (conflicting_duplicate is judged when applying)
    assert set(expected) == {r.value for r in RejectReason} - {R.CONFLICTING_DUPLICATE.value}
    counted = {
        reason: int(worker.metrics.value("sla_pipeline_events_dead_lettered_total", reason=reason))
        for reason in expected
    }
    assert counted == dict(expected)
    report_figures(
        "poison",
        orders=ORDERS,
        messages=len(stream.messages) + len(poison),
        applied=summary.outcome.applied,
        duplicates=summary.outcome.duplicates,
        dead_letters=letters.distinct,
        by_reason=",".join(f"{k}:{v}" for k, v in sorted(expected.items())),
        seconds=round(time.monotonic() - started, 1),
    )

"""Scenario 1, disorder: a 20k-order stream, randomly permuted, with duplicates, late
events and orphan status changes, applied in random batches on PostgreSQL, equals the
in-order oracle.

This one goes through the apply path directly (decode, then ``apply_batch``), not
through Kafka: the property is about the apply path, and 170k events through a broker
would cost minutes. Kafka delivery is covered by the other scenarios.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from consumer.apply import apply_batch
from consumer.batch import BatchOutcome, RawMessage, SourcePosition
from consumer.decode import decode_batch
from infra.bootstrap import migrated_engine, unit_of_work_factory
from infra.settings import Settings
from tests.faults.helpers import (
    assert_final_database,
    faulted_stream,
    report_figures,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
ORDERS = 20_000


def test_any_permutation_with_duplicates_equals_the_oracle(
    pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    stream = faulted_stream(
        ORDERS,
        seed,
        duplicate_rate=0.10,
        late_rate=0.05,
        orphan_rate=0.10,
        reorder_rate=0.10,
        illegal_rate=0.02,
        malformed_rate=0.002,
    )
    rng = random.Random(seed)
    messages = list(stream.messages)
    rng.shuffle(messages)  # any arrival order: orphans, late and early events everywhere
    raw = [
        RawMessage(SourcePosition(m.topic_kind, 0, n), m.key, m.value)
        for n, m in enumerate(messages)
    ]
    engine = migrated_engine(Settings(database_url=pg_database_url))
    unit_of_work = unit_of_work_factory(engine)
    outcome = BatchOutcome()
    rejected: Counter[tuple[bytes, str]] = Counter()
    batches = 0
    start = 0
    while start < len(raw):  # bounded: every pass consumes at least one message
        size = rng.choice((1, 7, 50, 500, 2000, 4000))
        batch = decode_batch(raw[start : start + size])
        rejected.update((r.message.value or b"", r.reason.value) for r in batch.rejected)
        outcome += apply_batch(batch.events, unit_of_work())
        batches += 1
        start += size
    engine.dispose()
    applied_s = time.monotonic() - started

    sent = [(m.key, m.value) for m in messages]  # in the order they were applied
    got = assert_final_database(pg_database_url, stream, tmp_path / "oracle.db", sent)
    assert len(got["order_history"]) == len(stream.valid_events)
    assert rejected == Counter(
        (m.value, m.expected_reason.value) for m in stream.malformed if m.expected_reason
    )
    assert outcome.applied == len(stream.valid_events)
    assert outcome.orphaned > 0 and outcome.stale > 0 and outcome.illegal > 0
    report_figures(
        "disorder",
        orders=ORDERS,
        messages=len(messages),
        batches=batches,
        applied=outcome.applied,
        duplicates=outcome.duplicates,
        stale=outcome.stale,
        orphaned=outcome.orphaned,
        illegal=outcome.illegal,
        dead_letters=sum(rejected.values()),
        apply_seconds=round(applied_s, 1),
        seconds=round(time.monotonic() - started, 1),
    )

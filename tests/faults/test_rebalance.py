"""Scenario 5, rebalance storm: up to three workers join and leave the group again and
again while the stream is being published; every rebalance hands partitions over, a
commit refused by a rebalance is re-read by the next owner, and the end result equals
the oracle, with the DLQ holding exactly the malformed messages.

Workers run in threads of this process (one Kafka consumer each, separate stop flags):
a leave is the graceful one of SIGTERM (finish the batch, commit, leave the group);
crashes are scenario 2.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from consumer.batch import BatchOutcome
from infra.bootstrap import migrated_engine
from infra.settings import Settings
from tests.faults.helpers import (
    MIXED_FAULTS,
    assert_final_database,
    check_dead_letters,
    faulted_stream,
    fully_committed,
    history_count,
    publish_gradually,
    report_figures,
    wait_until,
)
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
ORDERS = 3000
MAX_WORKERS = 3
STEPS = 16


def test_workers_joining_and_leaving_lose_nothing(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(seed)
    settings = settings_for(pg_database_url)
    stream = faulted_stream(ORDERS, seed, **MIXED_FAULTS)
    engine = migrated_engine(settings)
    publisher = publish_gradually(settings, stream.messages, chunks=30, pause_s=0.6)

    running: list[WorkerThread] = [WorkerThread(settings, engine).start()]
    finished: list[WorkerThread] = []
    joins, leaves = 1, 0
    deadline = time.monotonic() + 90
    for _ in range(STEPS):  # bounded in count and (deadline) in time
        if time.monotonic() > deadline:
            break
        time.sleep(rng.uniform(0.5, 2.0))
        join = len(running) < MAX_WORKERS and (not running or rng.random() < 0.55)
        if join:
            running.append(WorkerThread(settings, engine).start())
            joins += 1
        else:
            leaving = running.pop(rng.randrange(len(running)))
            leaving.stop()
            finished.append(leaving)
            leaves += 1
    assert joins >= 5 and leaves >= 4, (joins, leaves)

    publisher.join(timeout=120)
    assert not publisher.is_alive() and not publisher.errors  # type: ignore[attr-defined]
    if not running:
        running.append(WorkerThread(settings, engine).start())
    assert wait_until(lambda: history_count(engine) == len(stream.valid_events), 120)
    assert wait_until(lambda: fully_committed(settings), 60)
    for worker in running:
        worker.stop()
    outcome = BatchOutcome()
    for worker in [*finished, *running]:
        outcome += worker.join().outcome
    engine.dispose()

    assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)
    assert outcome.applied == len(stream.valid_events)
    report_figures(
        "rebalance",
        orders=ORDERS,
        messages=len(stream.messages),
        joins=joins,
        leaves=leaves,
        applied=outcome.applied,
        duplicates=outcome.duplicates,
        dead_letters=letters.distinct,
        dead_letter_messages=letters.total,
        seconds=round(time.monotonic() - started, 1),
    )

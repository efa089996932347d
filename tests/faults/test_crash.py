"""Scenario 2, crash: a ``sla-pipeline consume`` process is SIGKILLed at random points
of a live stream (mid-batch, and between the database commit and the offset commit),
at least ten times, and restarted each time; the final database equals the oracle and
the DLQ holds exactly the malformed messages.

Kills between the two commits use the worker's test-only pause
(``SLA_FAULTS_PAUSE_BEFORE_OFFSET_COMMIT_S``): the kill lands after the worker logged
that the database transaction is committed and before the Kafka offsets are. Restarts
alternate between seeking to the database's offsets and re-reading from Kafka's
(so both recovery paths replay). The workers use static group membership, so that a
restarted process takes over its partitions at once instead of waiting for the dead
member's session to expire.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from consumer.fault_hook import PAUSE_BEFORE_OFFSET_COMMIT_ENV
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
    worker_env,
)
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
ORDERS = 3000
KILLS = 12
PAUSE_MARKER = "fault hook: database committed"


def logged(worker: WorkerProcess, marker: str, times: int) -> Callable[[], bool]:
    return lambda: worker.count(marker) >= times


def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(seed)
    settings = settings_for(pg_database_url)
    stream = faulted_stream(ORDERS, seed, **MIXED_FAULTS, oversized_rate=0.002)
    engine = migrated_engine(settings)
    client = json.dumps({"group.instance.id": f"{settings.consumer_group}-member"})
    publisher = publish_gradually(settings, stream.messages, chunks=40, pause_s=0.6)

    kills: list[str] = []
    deadline = time.monotonic() + 150
    for attempt in range(KILLS + 6):  # bounded in count and (deadline) in time
        if len(kills) >= KILLS or time.monotonic() > deadline:
            break
        between_commits = attempt % 2 == 0
        seek = "--seek-to-database" if attempt % 4 < 2 else "--no-seek-to-database"
        extra = {"SLA_KAFKA_CONFIG": client}
        if between_commits:
            extra[PAUSE_BEFORE_OFFSET_COMMIT_ENV] = "0.4"
        worker = WorkerProcess(worker_env(settings, **extra), seek)
        if between_commits:
            wanted = rng.randint(1, 3)
            landed = wait_until(logged(worker, PAUSE_MARKER, wanted), 10, 0.02)
            where = "between-commits" if landed else "random"
        else:
            wait_until(logged(worker, "assigned", 1), 10, 0.05)
            time.sleep(rng.uniform(0.1, 1.5))
            where = "mid-stream"
        worker.kill()
        kills.append(where)
    assert len(kills) >= 10, kills
    assert kills.count("between-commits") >= 3, kills

    publisher.join(timeout=120)
    assert not publisher.is_alive() and not publisher.errors  # type: ignore[attr-defined]
    final = WorkerProcess(
        worker_env(settings, SLA_KAFKA_CONFIG=client), "--until-idle", "4", "--no-seek-to-database"
    )
    assert final.wait(120) == 0, final.output()[-3000:]
    assert wait_until(lambda: history_count(engine) == len(stream.valid_events), 10)
    engine.dispose()

    got = assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)
    assert fully_committed(settings)
    report_figures(
        "crash",
        orders=ORDERS,
        messages=len(stream.messages),
        kills=len(kills),
        kills_between_commits=kills.count("between-commits"),
        applied=len(got["order_history"]),
        duplicates=len(stream.messages) - len(stream.malformed) - len(stream.valid_events),
        dead_letters=letters.distinct,
        dead_letter_messages=letters.total,
        final_worker=final.output().strip().splitlines()[-1],
        seconds=round(time.monotonic() - started, 1),
    )

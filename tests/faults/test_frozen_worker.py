"""A frozen worker: SIGSTOPped while it holds an open batch transaction.

The member that takes over its partitions must not wait on the frozen worker's
row locks for as long as it is frozen (the server ends a transaction idle that
long; a session frozen in the middle of a COPY is ended by the successor when its
lock wait runs out), and once the frozen worker wakes it must not write anything: its batches
are fenced by the owner epoch its successor claimed, rolled back and not committed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from infra.bootstrap import migrated_engine
from infra.settings import Settings
from tests.faults.helpers import (
    MIXED_FAULTS,
    assert_final_database,
    check_dead_letters,
    faulted_stream,
    history_count,
    publish_gradually,
    report_figures,
    wait_until,
    worker_env,
)
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
ORDERS = 2500
FROZEN_S = 60.0
FENCED_MARKER = "taken over by another member"


def _named(url: str, name: str) -> str:
    """``url`` whose sessions carry ``application_name`` (to find them in pg_stat_activity)."""
    parsed = make_url(url)
    return parsed.update_query_dict({"application_name": name}).render_as_string(
        hide_password=False
    )


def test_a_frozen_worker_blocks_nobody_and_writes_nothing_after_waking(
    settings_for: Callable[[str], Settings], pg_database_url: str, seed: int, tmp_path: Path
) -> None:
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    stream = faulted_stream(ORDERS, seed, **MIXED_FAULTS)
    engine = migrated_engine(settings)

    def in_transaction() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'frozen' AND xact_start IS NOT NULL AND state <> 'idle'"
                    )
                ).scalar_one()
            )

    frozen_env = worker_env(settings, SLA_DATABASE_URL=_named(pg_database_url, "frozen"))
    frozen = WorkerProcess(frozen_env)
    successor = WorkerProcess(worker_env(settings))
    publisher = publish_gradually(settings, stream.messages, chunks=30, pause_s=0.5)
    stopped_at: float | None = None
    try:
        assert wait_until(lambda: frozen.count("assigned") >= 1, 60), frozen.output()[-2000:]
        for _ in range(400):  # bounded: freeze it inside a transaction
            if in_transaction():
                os.kill(frozen.pid, signal.SIGSTOP)
                if in_transaction():
                    stopped_at = time.monotonic()
                    break
                os.kill(frozen.pid, signal.SIGCONT)
            time.sleep(0.01)
        assert stopped_at is not None, "never caught the worker inside a transaction"

        publisher.join(timeout=120)
        assert not publisher.is_alive() and not publisher.errors  # type: ignore[attr-defined]
        everything = len(stream.valid_events)
        # the successor gets every event in while the other worker is still frozen
        done = wait_until(lambda: history_count(engine) == everything, FROZEN_S - 5, 0.5)
        caught_up_s = time.monotonic() - stopped_at
        if not done:
            with engine.connect() as conn:
                activity = conn.execute(
                    text(
                        "SELECT application_name, state, wait_event_type, wait_event, "
                        "now() - xact_start, left(query, 80) FROM pg_stat_activity "
                        "WHERE datname = current_database()"
                    )
                ).all()
            raise AssertionError(
                f"{history_count(engine)} of {everything} applied {caught_up_s:.0f}s on; "
                f"sessions {activity}; successor: {successor.output()[-3000:]}"
            )
        assert time.monotonic() - stopped_at < FROZEN_S
        time.sleep(max(0.0, FROZEN_S - (time.monotonic() - stopped_at)))
        os.kill(frozen.pid, signal.SIGCONT)
        # awake: its batch in hand is fenced, and then it rejoins the group
        assert wait_until(lambda: frozen.count(FENCED_MARKER) >= 1, 45), frozen.output()[-3000:]
    finally:
        if stopped_at is not None:
            os.kill(frozen.pid, signal.SIGCONT)
        for worker in (frozen, successor):
            if worker.pid:
                os.kill(worker.pid, signal.SIGTERM)
    assert frozen.wait(60) == 0, frozen.output()[-3000:]
    assert successor.wait(60) == 0, successor.output()[-3000:]

    got = assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)
    engine.dispose()
    report_figures(
        "frozen_worker",
        orders=ORDERS,
        messages=len(stream.messages),
        applied=len(got["order_history"]),
        dead_letters=letters.distinct,
        frozen_s=FROZEN_S,
        successor_caught_up_s=round(caught_up_s, 1),
        fenced_batches=frozen.count(FENCED_MARKER),
        # frozen in the middle of a COPY (not idle): the successor ended its session
        stuck_copies_ended=successor.count("stuck in a COPY"),
        seconds=round(time.monotonic() - started, 1),
    )

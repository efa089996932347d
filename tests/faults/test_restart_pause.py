"""How long a group stops when one of two workers is SIGKILLed and restarted at once.

Measured twice in one run on the same stream shape: as dynamic members with the
worker's default session timeout (15 s: the dead member's partitions, and with
the eager rebalance every partition, wait for its session to expire), and as
static members (``--instance-id``): the restarted worker takes its partitions back
under its old name without a rebalance. The pause is the longest time any
partition went without an applied event after the kill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from infra.bootstrap import migrated_engine
from infra.settings import Settings
from tests.faults.helpers import (
    faulted_stream,
    fresh_database,
    history_count,
    publish_gradually,
    report_figures,
    wait_until,
    worker_env,
)
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
ORDERS = 1500


def _longest_gap(engine: Engine, since: datetime) -> float:
    """The longest time (s) any partition went without an applied event from ``since``
    (rows read in the catch-up after a pause close it)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_topic, source_partition, ingested_at FROM order_history "
                "WHERE ingested_at >= :since ORDER BY source_topic, source_partition, ingested_at"
            ),
            {"since": since},
        ).all()
    gaps: dict[tuple[str, int], float] = {}
    last: dict[tuple[str, int], datetime] = {}
    for topic, partition, at in rows:
        key = (topic, partition)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        previous = last.get(key, since)
        gaps[key] = max(gaps.get(key, 0.0), (at - previous).total_seconds())
        last[key] = at
    return max(gaps.values(), default=0.0)


def _holds_partitions(worker: WorkerProcess) -> bool:
    assigned = [line for line in list(worker.lines) if " assigned " in line]
    return bool(assigned) and not assigned[-1].rstrip().endswith("assigned nothing")


def _pause_on_restart(settings: Settings, seed: int, *, static: bool) -> float:
    stream = faulted_stream(ORDERS, seed)
    engine = migrated_engine(settings)

    def env(name: str) -> dict[str, str]:
        if static:
            return worker_env(
                settings, SLA_CONSUMER_INSTANCE_ID=f"{settings.consumer_group}-{name}"
            )
        return worker_env(settings)

    victim, other = WorkerProcess(env("victim")), WorkerProcess(env("other"))
    publisher = publish_gradually(settings, stream.messages, chunks=60, pause_s=0.4)
    restarted: WorkerProcess | None = None
    try:
        # both hold partitions and events flow: the victim has work to lose
        assert wait_until(lambda: _holds_partitions(victim) and _holds_partitions(other), 60)
        applied = history_count(engine)
        assert wait_until(lambda: history_count(engine) > applied + 1000, 60)
        killed_at = datetime.now(UTC)
        victim.kill()
        restarted = WorkerProcess(env("victim"))
        assert wait_until(lambda: history_count(engine) == len(stream.valid_events), 150, 0.5)
        publisher.join(timeout=60)
        assert not publisher.is_alive() and not publisher.errors  # type: ignore[attr-defined]
        return _longest_gap(engine, killed_at)
    finally:
        for worker in (other, restarted, victim):
            if worker is not None:
                worker.kill()
        engine.dispose()


def test_a_restarted_static_member_stalls_the_group_far_less(
    settings_for: Callable[[str], Settings],
    pg_database_url: str,
    postgres_url: str,
    seed: int,
) -> None:
    started = time.monotonic()
    dynamic = _pause_on_restart(settings_for(pg_database_url), seed, static=False)
    # the second measurement gets its own topics, group and database
    with fresh_database(postgres_url, "pause") as second_url:
        settings = settings_for(second_url)
        static_group = settings.model_copy(
            update={"consumer_group": f"{settings.consumer_group}-s"}
        )
        static = _pause_on_restart(static_group, seed, static=True)
    report_figures(
        "restart_pause",
        dynamic_pause_s=round(dynamic, 1),
        static_pause_s=round(static, 1),
        seconds=round(time.monotonic() - started, 1),
    )
    assert static < 15.0, f"static member: the group paused {static:.1f}s"
    assert static < dynamic / 2, f"static {static:.1f}s vs dynamic {dynamic:.1f}s"

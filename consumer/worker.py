"""The batch loop: poll, decode, dead-letter, apply in one transaction, commit offsets.

The loop knows no SQL and no Kafka client: it talks to a ``MessageSource``, a
``DeadLetterSink``, a unit of work and (for SLA alerts) an ``AlertDesk``. Outages
are retried with backoff; nothing is committed until they pass. The batch in
flight and the order of the effects around its transaction are
``consumer.pipeline``'s; when a bounded run ends is ``consumer.idle``'s; the run's
totals, metrics and log lines are ``consumer.accounting``'s.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

from consumer.accounting import RunAccounting
from consumer.alerts import AlertDesk
from consumer.apply import Checkpoint, PreparedEvents, apply_batch, prepare
from consumer.batch import DEFAULT_BATCH_SIZE, BatchOutcome, DecodedBatch
from consumer.dlq import DeadLetterSink
from consumer.errors import RetriesAbandoned
from consumer.gather import Gatherer
from consumer.idle import IdleRules
from consumer.metrics import ConsumerMetrics
from consumer.pipeline import BatchPipeline
from consumer.ports import (
    BrokerContact,
    GroupMember,
    MessageSource,
    PartitionOwner,
    UnitOfWork,
)
from consumer.retry import Backoff, Retrier
from consumer.shutdown import StopFlag
from consumer.tuning import interpreter_tuned
from infra.defaults import DEFAULT_BATCH_WAIT_S

log = logging.getLogger(__name__)
__all__ = ["RunSummary", "Worker", "WorkerConfig"]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How the loop batches and when a bounded run ends.

    A batch goes when it holds ``batch_size`` messages or as soon as the batch
    before it has been applied; with none in flight, a poll waits up to
    ``batch_wait_s`` to fill it (``consumer.gather``).

    ``until_idle_s`` counts from the first assignment (a slow group join is not
    idleness); a member that is never assigned anything stops after
    ``until_idle_s + join_allowance_s``. ``tune_interpreter`` applies
    ``consumer.tuning`` for the run (process-global: for a process that runs
    only the worker). ``pause_before_offset_commit_s`` is the fault suite's hook
    (``consumer.fault_hook``; 0 in production).
    """

    consumer_group: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_wait_s: float = DEFAULT_BATCH_WAIT_S
    until_idle_s: float | None = None
    max_events: int | None = None
    backoff: Backoff = field(default_factory=Backoff)
    join_allowance_s: float = 60.0
    tune_interpreter: bool = False
    pause_before_offset_commit_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did, for the final log line and tests."""

    batches: int
    consumed: int
    dead_lettered: int
    outcome: BatchOutcome
    stopped_by: str


class Worker:
    """One consumer-group member's loop. ``run()`` returns when a bound is reached
    or a stop is requested; it closes the source (leaving the group) either way.

    ``clock`` (seconds, monotonic) times the idle rules of a bounded run."""

    def __init__(
        self,
        source: MessageSource,
        unit_of_work: Callable[[], UnitOfWork],
        dead_letters: DeadLetterSink,
        config: WorkerConfig,
        *,
        metrics: ConsumerMetrics | None = None,
        stop: StopFlag | None = None,
        alerts: AlertDesk | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._alerts = alerts
        self._unit_of_work = unit_of_work
        self._config = config
        self._clock = clock
        self._stop = stop or StopFlag()
        self._accounting = RunAccounting(metrics or ConsumerMetrics())
        self._retry = Retrier(
            config.backoff,
            should_stop=lambda: self._stop.requested,
            on_retry=lambda error: self._accounting.retried(error.kind),
        )
        self._pipeline = BatchPipeline(
            source,
            dead_letters,
            self._accounting,
            self._retry,
            alerts=alerts,
            pause_before_offset_commit_s=config.pause_before_offset_commit_s,
        )
        self._gather = Gatherer(source, self._pipeline, self._retry, config.batch_wait_s)
        self._joined: Callable[[], bool] = lambda: True
        if isinstance(source, GroupMember):
            self._joined = source.joined
            source.set_before_revoke(self._before_revoke)

    def run(self) -> RunSummary:
        """Loop until a bound or a stop; an unexpected error propagates after closing."""
        stopped_by = "stop requested"
        tuned = interpreter_tuned() if self._config.tune_interpreter else nullcontext()
        try:
            with tuned:
                stopped_by = self._loop()
        except RetriesAbandoned as error:
            log.warning("stopped during an outage, nothing committed for the batch: %s", error)
            stopped_by = "stop requested during an outage"
        finally:
            self._source.close()
        done = self._accounting
        summary = RunSummary(
            done.batches, done.consumed, done.dead_lettered, done.outcome, stopped_by
        )
        log.info(
            "worker done (%s): %d messages in %d batches, %d applied, %d duplicates, "
            "%d dead-lettered",
            stopped_by,
            summary.consumed,
            summary.batches,
            summary.outcome.applied,
            summary.outcome.duplicates,
            summary.dead_lettered,
        )
        return summary

    def _loop(self) -> str:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sla-apply") as pool:
            try:
                stopped_by = self._poll_and_hand_over(pool)
            except BaseException:
                self._pipeline.abandon()
                raise
            self._pipeline.finish()  # the batch in hand is finished and committed
        return stopped_by

    def _poll_and_hand_over(self, pool: ThreadPoolExecutor) -> str:
        cfg = self._config
        idle = IdleRules(
            cfg.until_idle_s,
            cfg.join_allowance_s,
            joined=self._joined,
            unreachable=self._unreachable,
            clock=self._clock,
        )
        while not self._stop.requested:
            self._tend_alerts()
            wanted = cfg.batch_size
            if cfg.max_events is not None:
                wanted = min(
                    wanted, cfg.max_events - self._accounting.consumed - self._pipeline.pending
                )
                if wanted <= 0:
                    return f"max events {cfg.max_events}"
            gathered = self._gather.next_batch(wanted)
            idle.polled()
            batch = gathered.batch
            if not batch.size:
                if self._pipeline.pending:
                    self._pipeline.finish()  # nothing to overlap with: commit it now
                    idle.worked()
                elif (reason := idle.reason_to_stop()) is not None:
                    return reason
                continue
            # the database-free part of applying overlaps the transaction of the batch
            # before when it is still running (a full batch under a backlog)
            prepared = prepare(batch.events)
            finished = self._pipeline.finish()
            if finished.fenced:
                # the batch before was read under an assignment that is gone: this one
                # too, so it is read again rather than applied
                self._pipeline.rewind(batch, rewound=finished.rewound)
                continue
            self._pipeline.dead_letter(batch.rejected)
            apply = functools.partial(self._apply, batch, prepared, gathered.owners)
            self._pipeline.submit(pool, batch, apply)
            idle.worked()
        return "stop requested"

    def _apply(
        self,
        batch: DecodedBatch,
        prepared: PreparedEvents,
        owners: Mapping[tuple[str, int], PartitionOwner],
    ) -> BatchOutcome:
        """The batch's transaction, retried through outages (runs on the apply thread).

        Raises ``PartitionFenced`` when a partition of the batch has a new owner."""
        checkpoint = Checkpoint(self._config.consumer_group, batch.next_offsets, owners)
        after = self._alerts.in_batch if self._alerts is not None else None
        return self._retry(
            "apply batch",
            lambda: apply_batch(
                prepared, self._unit_of_work(), checkpoint=checkpoint, after_apply=after
            ),
        )

    def _unreachable(self) -> str | None:
        return self._source.unreachable() if isinstance(self._source, BrokerContact) else None

    def _before_revoke(self) -> None:
        """Finish the batch in flight while its partitions are still ours; what was
        gathered after it is read again by whoever owns them next."""
        self._pipeline.finish()
        self._gather.drop_held()

    def _tend_alerts(self) -> None:
        """At start-up and every sweep period: finish the batch in flight (so the sweep
        sees its orders), sweep, and publish what is queued (a crashed worker's too)."""
        if self._alerts is None or not self._alerts.tend_due():
            return
        self._pipeline.finish()
        self._retry("SLA alert sweep", self._alerts.tend)

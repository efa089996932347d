"""The batch loop: poll, decode, dead-letter, apply in one transaction, commit offsets.

Order matters, so a crash replays rather than loses: the dead letters and the
SLA alerts are confirmed by the broker and the database transaction (with the
offsets it covers) has committed before the Kafka offsets are committed. Outages are
retried with backoff; nothing is committed until they pass. The loop knows
no SQL and no Kafka client: it talks to a ``MessageSource``, a
``DeadLetterSink``, a unit of work and (for SLA alerts) an ``AlertDesk``.

Batches are pipelined one deep: while batch N is applied on a second thread
(the driver waits for the database without holding the GIL), the loop polls
and decodes batch N+1. Batch N's Kafka offsets are still committed only after
its transaction, and before batch N+1 is applied or a partition is revoked.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from consumer.alerts import AlertDesk
from consumer.apply import Checkpoint, PreparedEvents, apply_batch, prepare
from consumer.batch import (
    DEFAULT_BATCH_SIZE,
    BatchOutcome,
    DecodedBatch,
    RawMessage,
    Rejected,
    batch_span,
)
from consumer.decode import decode_batch
from consumer.dlq import DeadLetterSink
from consumer.errors import InfrastructureError, PartitionFenced, RetriesAbandoned
from consumer.fault_hook import PAUSE_BEFORE_OFFSET_COMMIT_ENV, pause_before_offset_commit
from consumer.metrics import ConsumerMetrics
from consumer.ports import (
    BrokerContact,
    FencedMember,
    GroupMember,
    MessageSource,
    PartitionOwner,
    UnitOfWork,
)
from consumer.progress import BatchProgress
from consumer.retry import Backoff, retry_call
from consumer.shutdown import StopFlag
from consumer.tuning import loop_tuning

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = [
    "PAUSE_BEFORE_OFFSET_COMMIT_ENV",
    "MessageSource",
    "RunSummary",
    "Worker",
    "WorkerConfig",
    "batch_span",
]

#: How a bounded run (``until_idle_s``) that never got partitions ends: no broker
#: answered for ``until_idle_s`` plus this long, or no assignment came at all.
UNREACHABLE_ALLOWANCE_S = 10.0
NO_CONTACT = "no contact with Kafka"
NO_ASSIGNMENT = "no assignment"
#: After a fenced batch: a member that lost its partitions learns so from the group
#: within a heartbeat or two; re-reading sooner would only be fenced again.
_FENCED_PAUSE_S = 1.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How the loop batches and when a bounded run ends.

    ``until_idle_s`` counts from the first assignment (a slow group join is not
    idleness); a member that is never assigned anything stops after
    ``until_idle_s + join_allowance_s``.
    """

    consumer_group: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_wait_s: float = 0.5
    until_idle_s: float | None = None
    max_events: int | None = None
    backoff: Backoff = field(default_factory=Backoff)
    join_allowance_s: float = 60.0


@dataclass(frozen=True, slots=True)
class _Finished:
    """How the batch in flight ended: its outcome, or fenced (rolled back, read again)."""

    outcome: BatchOutcome
    fenced: bool = False


@dataclass(slots=True)
class _InFlight:
    """A batch whose transaction runs on the apply thread."""

    batch: DecodedBatch
    started: float
    outcome: Future[BatchOutcome]


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
    or a stop is requested; it closes the source (leaving the group) either way."""

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
    ) -> None:
        self._source = source
        self._alerts = alerts
        self._unit_of_work = unit_of_work
        self._dead_letters = dead_letters
        self._config = config
        self._metrics = metrics or ConsumerMetrics()
        self._stop = stop or StopFlag()
        self._outcome = BatchOutcome()
        self._batches = 0
        self._consumed = 0
        self._dead_lettered = 0
        self._in_flight: _InFlight | None = None
        self._progress = BatchProgress()
        self._joined: Callable[[], bool] = lambda: True
        if isinstance(source, GroupMember):
            self._joined = source.joined
            source.set_before_revoke(self._finish_in_flight)

    def run(self) -> RunSummary:
        """Loop until a bound or a stop; an unexpected error propagates after closing."""
        stopped_by = "stop requested"
        try:
            with loop_tuning():
                stopped_by = self._loop()
        except RetriesAbandoned as error:
            log.warning("stopped during an outage, nothing committed for the batch: %s", error)
            stopped_by = "stop requested during an outage"
        finally:
            self._source.close()
        summary = RunSummary(
            self._batches, self._consumed, self._dead_lettered, self._outcome, stopped_by
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
                stopped_by = self._pipeline(pool)
            except BaseException:
                self._abandon_in_flight()
                raise
            self._finish_in_flight()  # the batch in hand is finished and committed
        return stopped_by

    def _pipeline(self, pool: ThreadPoolExecutor) -> str:
        cfg = self._config
        started = time.monotonic()
        idle_since: float | None = None  # from the first poll after the first assignment
        while not self._stop.requested:
            self._tend_alerts()
            wanted = cfg.batch_size
            if cfg.max_events is not None:
                pending = self._in_flight.batch.size if self._in_flight else 0
                wanted = min(wanted, cfg.max_events - self._consumed - pending)
                if wanted <= 0:
                    return f"max events {cfg.max_events}"
            messages = self._retry(
                "poll", functools.partial(self._source.poll_batch, wanted, cfg.batch_wait_s)
            )
            now = time.monotonic()
            if idle_since is None and self._joined():
                idle_since = now
            if not messages:
                if self._in_flight is not None:
                    self._finish_in_flight()  # nothing to overlap with: commit it now
                    idle_since = time.monotonic() if idle_since is not None else None
                elif cfg.until_idle_s is None:
                    pass
                elif idle_since is not None and now - idle_since >= cfg.until_idle_s:
                    return f"idle for {cfg.until_idle_s:g}s"
                elif idle_since is None and (problem := self._unreachable()) is not None:
                    if now - started >= cfg.until_idle_s + UNREACHABLE_ALLOWANCE_S:
                        return f"{NO_CONTACT} at {problem}"
                elif idle_since is None and now - started >= (
                    cfg.until_idle_s + cfg.join_allowance_s
                ):
                    return f"{NO_ASSIGNMENT} within {cfg.until_idle_s + cfg.join_allowance_s:g}s"
                continue
            # decoding (with the history payloads) and the database-free part of
            # applying overlap the transaction of the batch before, on the other thread
            batch = decode_batch(messages)
            prepared = prepare(batch.events)
            if self._finish_in_flight().fenced:
                # the batch before was read under an assignment that is gone: this one
                # too, so it is read again rather than applied
                self._rewind(batch)
                continue
            self._dead_letter(batch.rejected)
            apply = functools.partial(self._apply, batch, prepared, self._owners(batch))
            self._in_flight = _InFlight(batch, time.perf_counter(), pool.submit(apply))
            if idle_since is not None:
                idle_since = time.monotonic()
        return "stop requested"

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Handle one polled batch end to end, synchronously (the batch in hand is
        always finished)."""
        self._finish_in_flight()
        started = time.perf_counter()
        batch = decode_batch(messages)
        self._dead_letter(batch.rejected)
        done: Future[BatchOutcome] = Future()
        try:
            done.set_result(self._apply(batch, None, self._owners(batch)))
        except PartitionFenced as error:
            done.set_exception(error)
        self._in_flight = _InFlight(batch, started, done)
        return self._finish_in_flight().outcome

    def _apply(
        self,
        batch: DecodedBatch,
        prepared: PreparedEvents | None,
        owners: Mapping[tuple[str, int], PartitionOwner],
    ) -> BatchOutcome:
        """The batch's transaction, retried through outages (runs on the apply thread).

        Raises ``PartitionFenced`` when a partition of the batch has a new owner."""
        checkpoint = Checkpoint(self._config.consumer_group, batch.next_offsets, owners)
        events = prepared if prepared is not None else batch.events
        after = self._alerts.in_batch if self._alerts is not None else None
        return self._retry(
            "apply batch",
            lambda: apply_batch(
                events, self._unit_of_work(), checkpoint=checkpoint, after_apply=after
            ),
        )

    def _unreachable(self) -> str | None:
        return self._source.unreachable() if isinstance(self._source, BrokerContact) else None

    def _owners(self, batch: DecodedBatch) -> Mapping[tuple[str, int], PartitionOwner]:
        """The owner epochs the batch's partitions are held under now (none: unfenced)."""
        if not isinstance(self._source, FencedMember):
            return {}
        owners = self._source.owners()
        return {tp: owners[tp] for tp in batch.next_offsets if tp in owners}

    def _finish_in_flight(self) -> _Finished:
        """Wait for the batch in flight (if any), dead-letter its conflicting
        duplicates, publish its SLA alerts, then commit its Kafka offsets.

        Raises what its transaction raised (``RetriesAbandoned`` on a stop during
        an outage); its offsets are then not committed. A fenced batch (its
        partitions have a new owner) is rolled back and read again.
        """
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return _Finished(BatchOutcome())
        batch = in_flight.batch
        try:
            outcome = in_flight.outcome.result()
        except PartitionFenced as error:
            log.warning("batch not applied, %s; its messages are read again", error)
            self._metrics.record_fenced()
            self._rewind(batch)
            time.sleep(_FENCED_PAUSE_S)  # until the group tells this member what it owns
            return _Finished(BatchOutcome(), fenced=True)
        if outcome.conflicts:
            self._dead_letter([conflict.as_rejected() for conflict in outcome.conflicts])
        pause_before_offset_commit()
        if outcome.alerts and self._alerts is not None:
            self._retry("publish SLA alerts", self._alerts.publish_pending)
        self._retry("commit offsets", lambda: self._source.commit(batch.next_offsets))
        self._account(batch, outcome, time.perf_counter() - in_flight.started)
        return _Finished(outcome)

    def _tend_alerts(self) -> None:
        """At start-up and every sweep period: finish the batch in flight (so the sweep
        sees its orders), sweep, and publish what is queued (a crashed worker's too)."""
        if self._alerts is None or not self._alerts.tend_due():
            return
        self._finish_in_flight()
        self._retry("SLA alert sweep", self._alerts.tend)

    def _rewind(self, batch: DecodedBatch) -> None:
        """Read the batch's partitions again from its first offsets (those still ours)."""
        if isinstance(self._source, FencedMember) and batch.first_offsets:
            self._retry("rewind", functools.partial(self._source.rewind, batch.first_offsets))

    def _abandon_in_flight(self) -> None:
        """On an error: let the transaction in flight end, commit no offsets for it."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            try:
                in_flight.outcome.result()
            except BaseException as error:  # the error already propagating matters more
                log.debug("batch in flight ended with %r", error)

    def _dead_letter(self, letters: Sequence[Rejected]) -> None:
        if not letters:
            return
        for rejected in letters:
            log.warning(
                "%s rejected (%s): %s", rejected.message.position, rejected.reason, rejected.error
            )
        self._retry("dead-letter", lambda: self._dead_letters.publish(letters))
        for rejected in letters:
            self._metrics.record_dead_letter(rejected.reason.value)
        self._dead_lettered += len(letters)

    def _account(self, batch: DecodedBatch, outcome: BatchOutcome, duration_s: float) -> None:
        self._batches += 1
        self._consumed += batch.size
        self._outcome += outcome
        metrics = self._metrics
        metrics.record_batch(batch.size, duration_s)
        metrics.record_outcome(outcome)
        newest = max(r.event.occurred_at for r in batch.events) if batch.events else None
        if newest is not None:
            metrics.record_freshness(newest)
        lag = self._source.lag()
        metrics.record_lag(lag)
        self._progress.batch(batch.size, outcome, len(batch.rejected), newest)
        self._progress.maybe_log(lag)
        first, last = batch_span(batch)
        log.debug(
            "batch %s..%s: %d messages, %d applied, %d duplicates in %.3fs",
            first,
            last,
            batch.size,
            outcome.applied,
            outcome.duplicates,
            duration_s,
        )

    def _retry(self, what: str, operation: Callable[[], T]) -> T:
        def on_retry(error: InfrastructureError) -> None:
            self._metrics.record_retry(error.kind)

        return retry_call(
            operation,
            what=what,
            backoff=self._config.backoff,
            should_stop=lambda: self._stop.requested,
            on_retry=on_retry,
        )

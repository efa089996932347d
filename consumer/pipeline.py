"""The batch in flight, and the effects around its transaction, in their order.

Batches are pipelined one deep: while batch N's transaction runs on a second
thread (the driver waits for the database without holding the GIL), the loop
polls and decodes batch N+1. Finishing batch N keeps the order that makes a crash
replay rather than lose: its transaction (with the offsets it covers) has
committed, its dead letters and SLA alerts are confirmed by the broker, and only
then are its Kafka offsets committed -- before batch N+1 is applied or a
partition is revoked.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from consumer.accounting import RunAccounting
from consumer.alerts import AlertDesk
from consumer.batch import BatchOutcome, DecodedBatch, Offsets, Rejected
from consumer.dlq import DeadLetterSink
from consumer.errors import PartitionFenced
from consumer.fault_hook import pause_before_offset_commit
from consumer.ports import FencedMember, MessageSource
from consumer.retry import Retrier

log = logging.getLogger("consumer.worker")

#: After a fenced batch: a member that lost its partitions learns so from the group
#: within a heartbeat or two; re-reading sooner would only be fenced again.
FENCED_PAUSE_S = 1.0


@dataclass(frozen=True, slots=True)
class Finished:
    """How the batch in flight ended: its outcome, or fenced (rolled back, read again)."""

    outcome: BatchOutcome
    fenced: bool = False
    #: Where a fenced batch's partitions were rewound to (read again from there).
    rewound: Offsets = field(default_factory=dict)


@dataclass(slots=True)
class _InFlight:
    """A batch whose transaction runs on the apply thread."""

    batch: DecodedBatch
    started: float
    outcome: Future[BatchOutcome]


class BatchPipeline:
    """At most one batch in flight, and its dead letters, alerts and offset commits.

    ``pause_before_offset_commit_s`` is the fault suite's hook (0 in production).
    """

    def __init__(
        self,
        source: MessageSource,
        dead_letters: DeadLetterSink,
        accounting: RunAccounting,
        retry: Retrier,
        *,
        alerts: AlertDesk | None = None,
        pause_before_offset_commit_s: float = 0.0,
    ) -> None:
        self._source = source
        self._dead_letters = dead_letters
        self._accounting = accounting
        self._retry = retry
        self._alerts = alerts
        self._pause_s = pause_before_offset_commit_s
        self._in_flight: _InFlight | None = None

    @property
    def pending(self) -> int:
        """Messages in the batch in flight (0 when there is none)."""
        return self._in_flight.batch.size if self._in_flight is not None else 0

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the batch in flight to be applied (not yet
        finished); whether it has been (``True`` when there is none)."""
        if self._in_flight is None:
            return True
        done, _ = wait([self._in_flight.outcome], timeout=timeout_s)
        return bool(done)

    def submit(
        self, pool: ThreadPoolExecutor, batch: DecodedBatch, apply: Callable[[], BatchOutcome]
    ) -> None:
        """Start ``apply`` (the batch's transaction) on ``pool``; finish the one before first."""
        assert self._in_flight is None, "finish the batch in flight before submitting another"
        self._in_flight = _InFlight(batch, time.perf_counter(), pool.submit(apply))

    def finish(self) -> Finished:
        """Wait for the batch in flight (if any), dead-letter its conflicting
        duplicates, publish its SLA alerts, then commit its Kafka offsets.

        Raises what its transaction raised (``RetriesAbandoned`` on a stop during
        an outage); its offsets are then not committed. A fenced batch (its
        partitions have a new owner) is rolled back and read again.
        """
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return Finished(BatchOutcome())
        batch = in_flight.batch
        try:
            outcome = in_flight.outcome.result()
        except PartitionFenced as error:
            log.warning("batch not applied, %s; its messages are read again", error)
            self._accounting.fenced()
            self.rewind(batch)
            time.sleep(FENCED_PAUSE_S)  # until the group tells this member what it owns
            return Finished(BatchOutcome(), fenced=True, rewound=batch.first_offsets)
        if outcome.conflicts:
            self.dead_letter([conflict.as_rejected() for conflict in outcome.conflicts])
        pause_before_offset_commit(self._pause_s)
        if outcome.alerts and self._alerts is not None:
            self._retry("publish SLA alerts", self._alerts.publish_pending)
        self._retry("commit offsets", lambda: self._source.commit(batch.next_offsets))
        duration_s = time.perf_counter() - in_flight.started
        self._accounting.committed(batch, outcome, duration_s, self._source.lag())
        return Finished(outcome)

    def abandon(self) -> None:
        """On an error: let the transaction in flight end, commit no offsets for it."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            try:
                in_flight.outcome.result()
            except BaseException as error:  # the error already propagating matters more
                log.debug("batch in flight ended with %r", error)

    def rewind(self, batch: DecodedBatch, *, rewound: Offsets | None = None) -> None:
        """Read the batch's partitions again from its first offsets (those still ours),
        except those ``rewound`` already to earlier offsets (by the batch before it:
        seeking them on to this batch's would skip that one's messages)."""
        offsets = {tp: o for tp, o in batch.first_offsets.items() if tp not in (rewound or {})}
        if isinstance(self._source, FencedMember) and offsets:
            self._retry("rewind", functools.partial(self._source.rewind, offsets))

    def dead_letter(self, letters: Sequence[Rejected]) -> None:
        """Log, publish (through outages) and count ``letters``; returns once confirmed."""
        if not letters:
            return
        self._accounting.rejected(letters)
        self._retry("dead-letter", lambda: self._dead_letters.publish(letters))
        self._accounting.dead_lettered_batch(letters)

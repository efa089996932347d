"""The batch loop: poll, decode, dead-letter, apply in one transaction, commit offsets.

Order matters, so a crash replays rather than loses: the dead letters are
confirmed by the broker and the database transaction (with the offsets it
covers) has committed before the Kafka offsets are committed. Outages are
retried with backoff; nothing is committed until they pass. The loop knows
no SQL and no Kafka client: it talks to a ``MessageSource``, a
``DeadLetterSink`` and a unit of work.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from consumer.apply import Checkpoint, apply_batch
from consumer.batch import BatchOutcome, DecodedBatch, Offsets, RawMessage
from consumer.decode import decode_batch
from consumer.dlq import DeadLetterSink
from consumer.errors import InfrastructureError, RetriesAbandoned
from consumer.metrics import ConsumerMetrics
from consumer.ports import UnitOfWork
from consumer.retry import Backoff, retry_call
from consumer.shutdown import StopFlag

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Test-only fault hook (unset in production): seconds to sleep after the database
#: commit and before the Kafka offset commit, so the fault suite can SIGKILL a worker
#: exactly there and prove that the replay is harmless (docs/guarantees.md).
PAUSE_BEFORE_OFFSET_COMMIT_ENV = "SLA_FAULTS_PAUSE_BEFORE_OFFSET_COMMIT_S"


class MessageSource(Protocol):
    """A consumer-group member that reads batches and commits explicit offsets.

    Methods raise ``InfrastructureError`` when the broker cannot be used.
    """

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]: ...

    def commit(self, offsets: Offsets) -> None: ...

    def lag(self) -> Mapping[tuple[str, int], int]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How the loop batches and when a bounded run ends."""

    consumer_group: str
    batch_size: int = 2000
    batch_wait_s: float = 0.5
    until_idle_s: float | None = None
    max_events: int | None = None
    backoff: Backoff = field(default_factory=Backoff)


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
    ) -> None:
        self._source = source
        self._unit_of_work = unit_of_work
        self._dead_letters = dead_letters
        self._config = config
        self._metrics = metrics or ConsumerMetrics()
        self._stop = stop or StopFlag()
        self._outcome = BatchOutcome()
        self._batches = 0
        self._consumed = 0
        self._dead_lettered = 0

    def run(self) -> RunSummary:
        """Loop until a bound or a stop; an unexpected error propagates after closing."""
        stopped_by = "stop requested"
        try:
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
        cfg = self._config
        idle_since = time.monotonic()
        while not self._stop.requested:
            wanted = cfg.batch_size
            if cfg.max_events is not None:
                wanted = min(wanted, cfg.max_events - self._consumed)
                if wanted <= 0:
                    return f"max events {cfg.max_events}"
            messages = self._retry(
                "poll", functools.partial(self._source.poll_batch, wanted, cfg.batch_wait_s)
            )
            if not messages:
                if (
                    cfg.until_idle_s is not None
                    and time.monotonic() - idle_since >= cfg.until_idle_s
                ):
                    return f"idle for {cfg.until_idle_s:g}s"
                continue
            self.process(messages)
            idle_since = time.monotonic()
        return "stop requested"

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Handle one polled batch end to end (the batch in hand is always finished)."""
        started = time.perf_counter()
        batch = decode_batch(messages)
        self._dead_letter(batch)
        checkpoint = Checkpoint(self._config.consumer_group, batch.next_offsets)
        outcome = self._retry(
            "apply batch",
            lambda: apply_batch(batch.events, self._unit_of_work(), checkpoint=checkpoint),
        )
        _pause_before_offset_commit()
        self._retry("commit offsets", lambda: self._source.commit(batch.next_offsets))
        self._account(batch, outcome, time.perf_counter() - started)
        return outcome

    def _dead_letter(self, batch: DecodedBatch) -> None:
        if not batch.rejected:
            return
        for rejected in batch.rejected:
            log.warning(
                "%s rejected (%s): %s", rejected.message.position, rejected.reason, rejected.error
            )
        self._retry("dead-letter", lambda: self._dead_letters.publish(batch.rejected))
        for rejected in batch.rejected:
            self._metrics.record_dead_letter(rejected.reason.value)
        self._dead_lettered += len(batch.rejected)

    def _account(self, batch: DecodedBatch, outcome: BatchOutcome, duration_s: float) -> None:
        self._batches += 1
        self._consumed += batch.size
        self._outcome += outcome
        metrics = self._metrics
        metrics.record_batch(batch.size, duration_s)
        metrics.record_outcome(outcome)
        if batch.events:
            metrics.record_freshness(max(r.event.occurred_at for r in batch.events))
        metrics.record_lag(self._source.lag())
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


def _pause_before_offset_commit() -> None:
    """The test-only hook of ``PAUSE_BEFORE_OFFSET_COMMIT_ENV``; a bad value is ignored."""
    value = os.environ.get(PAUSE_BEFORE_OFFSET_COMMIT_ENV)
    if not value:
        return
    try:
        seconds = min(max(float(value), 0.0), 60.0)
    except ValueError:
        return
    log.warning("fault hook: database committed, pausing %.2fs before the offset commit", seconds)
    time.sleep(seconds)


def batch_span(batch: DecodedBatch) -> tuple[str, str]:
    """``topic[partition]@offset`` of the first and last offsets per partition, joined."""
    parts = sorted(batch.next_offsets.items())
    return (
        ",".join(f"{t}[{p}]" for (t, p), _ in parts),
        ",".join(f"{t}[{p}]@{o - 1}" for (t, p), o in parts),
    )

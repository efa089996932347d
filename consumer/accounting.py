"""What a run has done so far: the run's totals, its metrics and its log lines.

Every committed batch and every dead letter passes through here once, so the
totals of the final summary, the Prometheus metrics and the periodic progress
line cannot disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from consumer.batch import BatchOutcome, DecodedBatch, Rejected, batch_span
from consumer.metrics import ConsumerMetrics
from consumer.progress import BatchProgress

log = logging.getLogger("consumer.worker")


class RunAccounting:
    """The totals of one run, recorded into ``metrics`` and the progress line as they grow."""

    def __init__(self, metrics: ConsumerMetrics, progress: BatchProgress | None = None) -> None:
        self.metrics = metrics
        self.progress = progress or BatchProgress()
        self.batches = 0
        self.consumed = 0
        self.dead_lettered = 0
        self.outcome = BatchOutcome()

    def rejected(self, letters: Sequence[Rejected]) -> None:
        """Log each rejected message with its position and reason (before it is published)."""
        for rejected in letters:
            log.warning(
                "%s rejected (%s): %s", rejected.message.position, rejected.reason, rejected.error
            )

    def dead_lettered_batch(self, letters: Sequence[Rejected]) -> None:
        """Count letters the dead-letter topic has confirmed."""
        for rejected in letters:
            self.metrics.record_dead_letter(rejected.reason.value)
        self.dead_lettered += len(letters)

    def retried(self, kind: str) -> None:
        self.metrics.record_retry(kind)

    def fenced(self) -> None:
        self.metrics.record_fenced()

    def committed(
        self,
        batch: DecodedBatch,
        outcome: BatchOutcome,
        duration_s: float,
        lag: Mapping[tuple[str, int], int],
    ) -> None:
        """A batch whose offsets were committed ``duration_s`` after it was handed over."""
        self.batches += 1
        self.consumed += batch.size
        self.outcome += outcome
        metrics = self.metrics
        metrics.record_batch(batch.size, duration_s)
        metrics.record_outcome(outcome)
        newest = max(r.event.occurred_at for r in batch.events) if batch.events else None
        if newest is not None:
            metrics.record_freshness(newest)
        metrics.record_lag(lag)
        self.progress.batch(batch.size, outcome, len(batch.rejected), newest)
        self.progress.maybe_log(lag)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "batch %s: %d messages, %d applied, %d duplicates in %.3fs",
                batch_span(batch),
                batch.size,
                outcome.applied,
                outcome.duplicates,
                duration_s,
            )

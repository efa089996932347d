"""The worker's periodic INFO line: what it did since the last one.

A long-lived worker that logs nothing per batch looks the same as a stuck one;
one concise line every ``interval_s`` (only when something happened) says it is
alive and how far behind it is, without a line per batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumer.batch import BatchOutcome

log = logging.getLogger("consumer.worker")

#: Seconds between progress lines.
PROGRESS_INTERVAL_S = 30.0


@dataclass(slots=True)
class BatchProgress:
    """Accumulates batches and logs ``progress: ...`` at most every ``interval_s``."""

    interval_s: float = PROGRESS_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    batches: int = 0
    messages: int = 0
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    dead_lettered: int = 0
    newest_event_at: datetime | None = None
    _since: float | None = None

    def batch(
        self,
        messages: int,
        outcome: BatchOutcome,
        dead_lettered: int,
        newest_event_at: datetime | None,
    ) -> None:
        self.batches += 1
        self.messages += messages
        self.outcome += outcome
        self.dead_lettered += dead_lettered
        if newest_event_at is not None and (
            self.newest_event_at is None or newest_event_at > self.newest_event_at
        ):
            self.newest_event_at = newest_event_at

    def maybe_log(self, lag: Mapping[tuple[str, int], int]) -> bool:
        """Log the line if ``interval_s`` passed and a batch came since; True if logged."""
        now = self.clock()
        if self._since is None:
            self._since = now
            return False
        if now - self._since < self.interval_s or not self.batches:
            return False
        log.info("progress: %s", self.line(lag, now - self._since))
        self.batches = self.messages = self.dead_lettered = 0
        self.outcome = BatchOutcome()
        self._since = now
        return True

    def line(self, lag: Mapping[tuple[str, int], int], seconds: float) -> str:
        o = self.outcome
        fresh = ""
        if self.newest_event_at is not None:
            behind = (datetime.now(UTC) - self.newest_event_at).total_seconds()
            fresh = f", newest event {behind:.0f}s old"
        return (
            f"{self.batches} batches, {self.messages} messages in {seconds:.0f}s: "
            f"{o.applied} applied, {o.duplicates} duplicates, {o.conflicting} conflicting, "
            f"{self.dead_lettered} dead-lettered; lag {sum(lag.values())}{fresh}"
        )

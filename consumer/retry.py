"""Capped exponential backoff with full jitter for infrastructure outages.

Only ``InfrastructureError`` is retried: a bad message is never retried and an
unexpected error is never hidden. The retry loop gives up only when a stop is
requested (``RetriesAbandoned``), so a worker resumes by itself when the
database or broker comes back.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from consumer.errors import InfrastructureError, RetriesAbandoned

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``n`` (0-based): uniform in [0, min(cap, base * factor**n)]."""

    base_s: float = 0.2
    factor: float = 2.0
    cap_s: float = 10.0
    max_attempts: int | None = None

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * self.factor ** min(attempt, 60))
        return (rng or random).uniform(0, ceiling)


def retry_call(
    operation: Callable[[], T],
    *,
    what: str,
    backoff: Backoff,
    should_stop: Callable[[], bool] = lambda: False,
    on_retry: Callable[[InfrastructureError], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation`` until it does not raise ``InfrastructureError``.

    Raises ``RetriesAbandoned`` if a stop is requested (or ``max_attempts`` is
    used up) while still failing; any other exception propagates at once.
    """
    attempt = 0
    while True:
        try:
            return operation()
        except InfrastructureError as error:
            if on_retry is not None:
                on_retry(error)
            if should_stop() or (
                backoff.max_attempts is not None and attempt + 1 >= backoff.max_attempts
            ):
                raise RetriesAbandoned(f"{what}: gave up after {attempt + 1} attempts") from error
            delay = backoff.delay(attempt)
            log.warning("%s failed (%s); retry %d in %.2fs", what, error, attempt + 1, delay)
            _sleep_unless_stopped(delay, should_stop, sleep)
            attempt += 1


def _sleep_unless_stopped(
    delay: float, should_stop: Callable[[], bool], sleep: Callable[[float], None]
) -> None:
    # sleep in slices so SIGTERM during a long backoff is honoured promptly
    deadline = time.monotonic() + delay
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, 0.25))


@dataclass(frozen=True, slots=True)
class Retrier:
    """``retry_call`` with one run's backoff, stop flag and retry counter, by name."""

    backoff: Backoff
    should_stop: Callable[[], bool] = lambda: False
    on_retry: Callable[[InfrastructureError], None] | None = None

    def __call__(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation`` through outages; raises as ``retry_call`` does."""
        return retry_call(
            operation,
            what=what,
            backoff=self.backoff,
            should_stop=self.should_stop,
            on_retry=self.on_retry,
        )

"""When a bounded run (``until_idle_s``) ends: idle, no contact, or no assignment.

Idle time counts from the first poll after the first assignment (a slow group join
is not idleness) and starts again whenever a batch is handed to the database or
committed. A member that never got partitions still ends in bounded time: sooner
when no broker answers, later when the group simply assigns it nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: How a bounded run that never got partitions ends: no broker answered for
#: ``until_idle_s`` plus this long, or no assignment came at all.
UNREACHABLE_ALLOWANCE_S = 10.0
#: How ``stopped_by`` starts when no broker answered.
NO_CONTACT = "no contact with Kafka"
#: How ``stopped_by`` starts when the group never assigned this member anything.
NO_ASSIGNMENT = "no assignment"


class IdleRules:
    """The stop rules of a bounded run, on an injectable ``clock`` (seconds).

    ``joined`` says whether the member has had its first assignment; ``unreachable``
    names the broker problem when no broker answers (``None`` otherwise). Both are
    asked only while the member has not joined.
    """

    def __init__(
        self,
        until_idle_s: float | None,
        join_allowance_s: float,
        *,
        joined: Callable[[], bool] = lambda: True,
        unreachable: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._until_idle_s = until_idle_s
        self._join_allowance_s = join_allowance_s
        self._joined = joined
        self._unreachable = unreachable
        self._clock = clock
        self._started = clock()
        self._polled_at = self._started
        self._idle_since: float | None = None

    def polled(self) -> None:
        """A poll returned (with or without messages): idle time may start now."""
        self._polled_at = now = self._clock()
        if self._idle_since is None and self._joined():
            self._idle_since = now

    def worked(self) -> None:
        """A batch was handed to the database or committed: idle time starts again."""
        if self._idle_since is not None:
            self._idle_since = self._clock()

    def reason_to_stop(self) -> str | None:
        """Why the run ends after an empty poll with no batch in hand (``None``: go on)."""
        limit = self._until_idle_s
        if limit is None:
            return None
        now = self._polled_at
        if self._idle_since is not None:
            return f"idle for {limit:g}s" if now - self._idle_since >= limit else None
        waited = now - self._started
        problem = self._unreachable()
        if problem is not None:
            if waited >= limit + UNREACHABLE_ALLOWANCE_S:
                return f"{NO_CONTACT} at {problem}"
            return None
        if waited >= limit + self._join_allowance_s:
            return f"{NO_ASSIGNMENT} within {limit + self._join_allowance_s:g}s"
        return None

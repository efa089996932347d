"""Progress of long jobs: a bar on a terminal, a periodic log line otherwise.

On a terminal (stderr) a rich bar shows done/total, percent, rate and time left.
When stderr is a pipe or a file (a container, CI, ``2> log``), a bar would be
noise, so one INFO line is logged every ``interval_s`` instead, e.g.
``ingest: 400000/1590000 rows (25%), 52000 rows/s, ETA 23 s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

log = logging.getLogger("sla_pipeline.progress")

#: How often a progress line is logged when stderr is not a terminal.
LOG_INTERVAL_S = 10.0

Advance = Callable[[int], None]


class _RateColumn(ProgressColumn):
    """Items per second, e.g. ``52,000 rows/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self._unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:  # rich forgets its sampled speed once finished
            speed = task.completed / task.elapsed
        return Text("" if speed is None else f"{speed:,.0f} {self._unit}/s")


class ProgressLog:
    """An ``advance(done)`` callback that logs a line at most every ``interval_s``."""

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str,
        interval_s: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what, self._total, self._unit = what, total, unit
        self._interval_s = interval_s
        self._clock = clock
        self._start = self._last = clock()

    def __call__(self, done: int) -> None:
        now = self._clock()
        if now - self._last < self._interval_s:
            return
        self._last = now
        log.info("%s", self.line(done, now - self._start))

    def line(self, done: int, elapsed_s: float) -> str:
        """``what: done/total unit (pct), rate unit/s, ETA s`` (without a total: no pct/ETA)."""
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        text = f"{self._what}: {done}"
        if self._total:
            text += f"/{self._total} {self._unit} ({min(done / self._total, 1.0):.0%})"
        else:
            text += f" {self._unit}"
        text += f", {rate:,.0f} {self._unit}/s"
        if self._total and rate > 0:
            text += f", ETA {max(self._total - done, 0) / rate:,.0f} s"
        return text


@contextmanager
def progress(
    what: str,
    total: int | None,
    unit: str,
    *,
    bar: bool = True,
    interval_s: float = LOG_INTERVAL_S,
) -> Iterator[Advance]:
    """Yields ``advance(done)`` (``done``: items so far, not an increment).

    On a terminal a bar (unless ``bar`` is false: small jobs); otherwise a log line
    every ``interval_s``. ``total=None`` when the total is not known; a total that is
    an estimate is corrected to the final count when the job ends.
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        yield ProgressLog(what, total, unit, interval_s)
        return
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn(), TaskProgressColumn(), _RateColumn(unit)]
    columns += [TimeRemainingColumn() if total else TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not bar) as shown:
        task = shown.add_task(what, total=total)
        last = 0

        def advance(done: int) -> None:
            nonlocal last
            last = done
            # a total counted cheaply may be an estimate: never show more than 100%
            if total is not None and done > total:
                shown.update(task, total=done)
            shown.update(task, completed=done)

        yield advance
        if total is not None:  # the estimate met the real count: end at 100%
            shown.update(task, total=last, completed=last)

"""The consumer worker's periodic progress line."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from consumer.batch import BatchOutcome
from consumer.progress import BatchProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_interval_and_only_after_work(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = BatchProgress(interval_s=30, clock=clock)
    caplog.set_level(logging.INFO, logger="consumer.worker")
    assert not progress.maybe_log({})  # the first call starts the interval
    newest = datetime.now(UTC) - timedelta(seconds=42)
    progress.batch(100, BatchOutcome(received=98, applied=90, duplicates=8), 2, newest)
    clock.now += 10
    assert not progress.maybe_log({("t", 0): 5})  # too soon
    progress.batch(50, BatchOutcome(received=50, applied=50, conflicting=0), 0, None)
    clock.now += 25
    assert progress.maybe_log({("t", 0): 5, ("t", 1): 7})
    [record] = [r for r in caplog.records if r.getMessage().startswith("progress:")]
    line = record.getMessage()
    assert "2 batches, 150 messages in 35s" in line
    assert "140 applied, 8 duplicates, 0 conflicting, 2 dead-lettered" in line
    assert "lag 12" in line
    assert re.search(r"newest event 4[23]s old", line), line
    clock.now += 31
    assert not progress.maybe_log({})  # nothing happened since: no line

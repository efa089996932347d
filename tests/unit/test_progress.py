"""The periodic progress line logged when stderr is not a terminal."""

from __future__ import annotations

import logging

import pytest

from cli.progress import ProgressLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_interval_with_share_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sla_pipeline.progress")
    clock = Clock()
    advance = ProgressLog("ingest", 1_590_000, "rows", interval_s=10, clock=clock)
    clock.now += 5
    advance(200_000)  # within the interval: nothing
    clock.now += 5
    advance(400_000)  # 10 s in: 40,000 rows/s, 1,190,000 left
    assert [r.getMessage() for r in caplog.records] == [
        "ingest: 400000/1590000 rows (25%), 40,000 rows/s, ETA 30 s"
    ]


def test_without_a_total_only_count_and_rate() -> None:
    clock = Clock()
    line = ProgressLog("produce", None, "messages", clock=clock).line(5000, 2.0)
    assert line == "produce: 5000 messages, 2,500 messages/s"

"""The fault suite's pause: read from a mapping once, bounded, a bad value ignored."""

from __future__ import annotations

import pytest

from consumer.fault_hook import MAX_PAUSE_S, PAUSE_BEFORE_OFFSET_COMMIT_ENV, pause_from_environment


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 0.0),
        ("", 0.0),
        ("0.4", 0.4),
        ("2", 2.0),
        ("-3", 0.0),
        ("1e9", MAX_PAUSE_S),
        ("inf", MAX_PAUSE_S),
        ("nan", 0.0),
        ("soon", 0.0),
    ],
)
def test_the_pause_is_bounded_and_a_bad_value_is_ignored(value: str | None, seconds: float) -> None:
    environ = {} if value is None else {PAUSE_BEFORE_OFFSET_COMMIT_ENV: value}
    assert pause_from_environment(environ) == seconds

"""Simulated event times: whole milliseconds since the epoch, as Kafka timestamps are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_MS = 60_000
#: Up to here a float number of seconds still pins every millisecond exactly (the
#: rounding error stays below half a microsecond); beyond it ``to_datetime`` goes exact.
_FLOAT_EXACT_MS = 2**33 * 1000
_from_timestamp = datetime.fromtimestamp


def to_datetime(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime (exact)."""
    if 0 <= ms < _FLOAT_EXACT_MS:
        return _from_timestamp(ms / 1000, UTC)  # half the cost of timedelta arithmetic
    return EPOCH + timedelta(milliseconds=ms)


def to_ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch (sub-ms truncated)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)

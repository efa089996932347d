"""Hypothesis strategies for what a foreign producer can put on the event topics.

Each message starts from a distinct simulated event (so its ``event_id`` is its own)
and is then bent at one place: sizes around the decode limit and around the broker's
1 MB, extreme and odd-offset times, reused ids, duplicate JSON keys, numbers with
thousands of digits, deep nesting, invalid UTF-8, empty values, tombstones, missing
or wrong keys, huge headers, binary noise. ``Hostile.event_id`` is the id the value
carries when it still has one, so a test can find it in ``order_history``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from domain.codec import encode_event
from domain.events import MAX_EVENT_BYTES, Event, OrderCreated

#: Shapes that a correct worker must dead-letter (whatever the reason it names).
MUST_REJECT = frozenset(
    {
        *("over_limit", "huge", "bad_utf8", "empty", "tombstone", "null_key", "wrong_key"),
        *("noise", "dup_key", "version"),
    }
)
EXTREME_TIMES = [
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59.999999+14:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-23:59",
    "2016-12-31T23:59:60Z",  # a real leap second
    "2025-06-01T12:00:00+23:59",
    "2025-06-01T12:00:00-23:59",
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "2025-06-01T12:00:00",  # no offset
    "2025-06-01T12:00:00+24:00",
    "2025-02-29T00:00:00Z",
]
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]


@dataclass(frozen=True)
class Hostile:
    """One message to send: ``shape`` says how it was bent."""

    topic_kind: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    event_id: str | None
    shape: str


def _text(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _padded(raw: bytes, size: int) -> bytes:
    """``raw`` (a JSON object) with insignificant spaces after ``{`` up to ``size`` bytes."""
    return b"{" + b" " * max(0, size - len(raw)) + raw[1:]


@st.composite
def hostile_message(draw: st.DrawFn, base: Event, earlier: list[Hostile]) -> Hostile:
    """``base`` bent one way; ``earlier`` messages supply ids and values to reuse."""
    kind = "order-created" if isinstance(base, OrderCreated) else "status-changed"
    raw = encode_event(base)
    doc: dict[str, Any] = json.loads(raw)
    key: bytes | None = str(base.order_id).encode()
    event_id: str | None = str(base.event_id)
    headers: tuple[tuple[str, bytes | None], ...] = ()
    shapes = ["valid", "limit", "time", "collide", "same", "dup_key", "digits", "version"]
    shapes += ["deep", "bad_utf8", "empty", "tombstone", "null_key", "wrong_key", "headers"]
    shape = draw(st.sampled_from([*shapes, "noise"] if earlier else shapes[:2]))
    value: bytes | None = raw
    if shape == "limit":
        size = draw(st.sampled_from([MAX_EVENT_BYTES - 1, MAX_EVENT_BYTES, MAX_EVENT_BYTES + 1]))
        value = _padded(raw, size)
        shape = "over_limit" if size > MAX_EVENT_BYTES else "valid"
    elif shape == "time":
        doc["occurred_at"] = draw(st.sampled_from(EXTREME_TIMES) | _odd_times())
        value = _text(doc)
    elif shape in ("collide", "same"):
        other = draw(st.sampled_from([m for m in earlier if m.event_id]))
        if shape == "same":  # an identical duplicate of an earlier message
            return Hostile(other.topic_kind, other.key, other.value, (), other.event_id, shape)
        doc["event_id"] = event_id = other.event_id
        value = _text(doc)
    elif shape == "dup_key":
        name = draw(st.sampled_from(sorted(doc)))
        again = draw(st.sampled_from([doc[name], None, "other", 7]))
        value = raw[:-1] + b"," + _text({name: again})[1:]
    elif shape == "digits":
        name = draw(st.sampled_from(["schema_version", "quantity", "unit_price", "occurred_at"]))
        digits = draw(st.sampled_from([30, 4300, 4301, 12000]))
        number = draw(st.sampled_from([b"1" * digits, b"0." + b"1" * digits, b"1e999999"]))
        doc[name] = "@number@"
        value = _text(doc).replace(b'"@number@"', number)
    elif shape == "version":
        doc["schema_version"] = draw(st.sampled_from([True, "1", 1.0, 2, None, -1]))
        value = _text(doc)
    elif shape == "deep":
        depth = draw(st.sampled_from([64, 1000, 5000]))
        value = raw[:-1] + b',"nested":' + b"[" * depth + b"]" * depth + b"}"
    elif shape == "bad_utf8":
        name = "customer_name" if "customer_name" in doc else "status"
        cut = raw.index(f'"{name}":"'.encode()) + len(name) + 4
        value = raw[:cut] + draw(st.sampled_from(BAD_UTF8)) + raw[cut:]
    elif shape in ("empty", "tombstone"):
        value, event_id = (b"" if shape == "empty" else None), None
    elif shape == "null_key":
        key = None
    elif shape == "wrong_key":
        key = draw(st.sampled_from([b"", b"ORD-nobody", b"\xff\xfe"]))
    elif shape == "headers":
        headers = draw(_headers())
    elif shape == "noise":
        value, event_id = draw(st.binary(min_size=1, max_size=300)), None
    return Hostile(kind, key, value, headers, event_id, shape)


def _odd_times() -> st.SearchStrategy[str]:
    """Well-formed ISO-8601 strings with any offset up to +-23:59 and second 60."""
    return st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(1, 9999),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 60),
        st.sampled_from(["Z", ""])
        | st.builds(
            "{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)
        ),
    )


def _headers() -> st.SearchStrategy[tuple[tuple[str, bytes | None], ...]]:
    big = st.tuples(st.just("blob"), st.sampled_from([b"h" * 200_000, b"\xff" * 1000]))
    many = st.integers(500, 2000).map(lambda n: tuple((f"h{i}", b"v") for i in range(n)))
    odd = st.tuples(st.text(min_size=0, max_size=20), st.none() | st.binary(max_size=50))
    return (
        st.lists(big, min_size=1, max_size=3).map(tuple)
        | many
        | st.lists(odd, max_size=5).map(tuple)
    )


def huge_message(base: Event, size: int) -> Hostile:
    """A value of ``size`` bytes (around the broker's 1 MB limit) that is still JSON."""
    kind = "order-created" if isinstance(base, OrderCreated) else "status-changed"
    raw = encode_event(base)
    return Hostile(
        kind, str(base.order_id).encode(), _padded(raw, size), (), str(base.event_id), "huge"
    )

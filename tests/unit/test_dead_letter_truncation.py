"""A letter too large for the dead-letter topic: what its truncated form keeps."""

from __future__ import annotations

import hashlib

import pytest

from consumer.batch import RawMessage, Rejected, SourcePosition
from consumer.dlq import (
    DeadLetter,
    dead_letter,
    truncated_dead_letter,
)
from domain.codec import RejectReason

KIB = 1024


def oversized(
    value: bytes | None,
    key: bytes | None = b"ORD-1",
    headers: list[tuple[str, bytes]] | None = None,
) -> Rejected:
    raw = RawMessage(SourcePosition("orders", 2, 41), key, value, headers or [("trace", b"t")])
    return Rejected(raw, RejectReason.OVERSIZED, "too big")


def header_bytes(headers: list[tuple[str, bytes]]) -> int:
    return sum(len(k.encode()) + len(v) for k, v in headers)


@pytest.mark.parametrize("limit", [1_000_000, 1_048_588, 200_000, 40 * KIB, 20 * KIB])
@pytest.mark.parametrize("size", [16 * KIB + 1, 1_010_000, 5_000_000])
def test_a_truncated_letter_fits_the_limit_and_names_the_whole_value(limit: int, size: int) -> None:
    value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    letter = truncated_dead_letter(oversized(value), limit)
    size_on_wire = len(letter.key or b"") + len(letter.value or b"") + header_bytes(letter.headers)
    assert size_on_wire + 1024 <= limit  # room left for Kafka's framing
    assert letter.value is not None and value.startswith(letter.value)
    assert 0 < len(letter.value) <= 16 * KIB
    parsed = DeadLetter.parse(SourcePosition("dlq", 0, 3), letter.key, letter.value, letter.headers)
    assert parsed.truncated
    assert parsed.original_size == size
    assert parsed.original_sha256 == hashlib.sha256(value).hexdigest()
    assert parsed.reason == "oversized" and parsed.error == "too big"
    assert parsed.source == SourcePosition("orders", 2, 41)
    assert parsed.original_headers == [("trace", b"t")] and parsed.key == b"ORD-1"


def test_huge_keys_and_headers_are_cut_too() -> None:
    headers = [("small", b"s"), ("huge", b"h" * 900 * KIB), ("after", b"a")]
    letter = truncated_dead_letter(oversized(b"v" * 100, b"k" * 50_000, headers), 1_000_000)
    parsed = DeadLetter.parse(SourcePosition("dlq", 0, 0), letter.key, letter.value, letter.headers)
    assert parsed.original_headers == [("small", b"s"), ("after", b"a")]
    assert letter.key == b"k" * 1024
    assert parsed.value == b"v" * 100 and parsed.original_size == 100


def test_a_whole_letter_is_not_marked_truncated() -> None:
    letter = dead_letter(oversized(b"{}"))
    parsed = DeadLetter.parse(SourcePosition("dlq", 0, 0), letter.key, letter.value, letter.headers)
    assert not parsed.truncated
    assert parsed.original_size is None and parsed.original_sha256 is None
    assert parsed.value == b"{}" and letter.size == 5 + 2 + header_bytes(letter.headers)


def test_a_tombstone_stays_a_tombstone_and_garbled_sizes_read_as_unknown() -> None:
    letter = truncated_dead_letter(oversized(None), 1_000_000)
    assert letter.value is None
    headers = [*letter.headers, ("dlq.original.size", b"many")]
    garbled = [(k, v) for k, v in headers if k != "dlq.original.size" or v == b"many"]
    parsed = DeadLetter.parse(SourcePosition("dlq", 0, 0), None, None, garbled)
    assert parsed.truncated and parsed.original_size is None

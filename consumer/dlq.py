"""Dead letters: what a rejected message looks like on the dead-letter topic.

A dead letter keeps the original key, value and headers, and adds
``dlq.reason`` (a ``RejectReason`` code), ``dlq.error`` and the source
``dlq.source.topic`` / ``.partition`` / ``.offset``.

A letter too large for the dead-letter topic is still recorded, truncated: its
value is cut to a prefix of at most ``TRUNCATED_VALUE_BYTES`` (its key to
``TRUNCATED_KEY_BYTES``, its original headers to ``TRUNCATED_HEADER_BYTES``)
and ``dlq.truncated`` = ``true``, ``dlq.original.size`` (bytes of the value) and
``dlq.original.sha256`` (hex digest of the value) say what it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from consumer.batch import Rejected, SourcePosition

REASON = "dlq.reason"
ERROR = "dlq.error"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"
TRUNCATED = "dlq.truncated"
ORIGINAL_SIZE = "dlq.original.size"
ORIGINAL_SHA256 = "dlq.original.sha256"
DLQ_HEADERS = frozenset(
    {
        REASON,
        ERROR,
        SOURCE_TOPIC,
        SOURCE_PARTITION,
        SOURCE_OFFSET,
        TRUNCATED,
        ORIGINAL_SIZE,
        ORIGINAL_SHA256,
    }
)
_MAX_ERROR_BYTES = 1000
#: What a truncated letter keeps: enough to recognise the message, far below any topic limit.
TRUNCATED_VALUE_BYTES = 16 * 1024
TRUNCATED_KEY_BYTES = 1024
TRUNCATED_HEADER_BYTES = 16 * 1024
#: Room kept free in a truncated letter for Kafka's record and batch framing.
FRAMING_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Letter:
    """The key, value and headers published for one reject."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes of key, value and headers (Kafka's framing not counted)."""
        heads = sum(len(k.encode()) + len(v) for k, v in self.headers)
        return len(self.key or b"") + len(self.value or b"") + heads


def _source_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    position = rejected.message.position
    return [
        (REASON, rejected.reason.value.encode()),
        (ERROR, rejected.error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]),
        (SOURCE_TOPIC, position.topic.encode()),
        (SOURCE_PARTITION, str(position.partition).encode()),
        (SOURCE_OFFSET, str(position.offset).encode()),
    ]


def _original_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in rejected.message.headers if k not in DLQ_HEADERS]


def dead_letter_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for ``rejected`` (original headers kept, first)."""
    return [*_original_headers(rejected), *_source_headers(rejected)]


def dead_letter(rejected: Rejected) -> Letter:
    """The whole letter: the original key and value with :func:`dead_letter_headers`."""
    message = rejected.message
    return Letter(message.key, message.value, dead_letter_headers(rejected))


def truncated_dead_letter(rejected: Rejected, max_bytes: int) -> Letter:
    """The letter cut down to fit ``max_bytes`` (the topic's limit, framing included).

    Original headers are kept in order while they fit ``TRUNCATED_HEADER_BYTES``
    (larger ones are left out); the value prefix shrinks below
    ``TRUNCATED_VALUE_BYTES`` only when the limit leaves less room.
    """
    message = rejected.message
    value = message.value or b""
    kept: list[tuple[str, bytes]] = []
    room = TRUNCATED_HEADER_BYTES
    for name, data in _original_headers(rejected):
        size = len(name.encode()) + len(data)
        if size <= room:
            kept.append((name, data))
            room -= size
    headers = [
        *kept,
        *_source_headers(rejected),
        (TRUNCATED, b"true"),
        (ORIGINAL_SIZE, str(len(value)).encode()),
        (ORIGINAL_SHA256, hashlib.sha256(value).hexdigest().encode()),
    ]
    key = None if message.key is None else message.key[:TRUNCATED_KEY_BYTES]
    without_value = Letter(key, None, headers).size
    prefix = max(0, min(TRUNCATED_VALUE_BYTES, max_bytes - FRAMING_BYTES - without_value))
    return Letter(key, None if message.value is None else value[:prefix], headers)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message read back from the dead-letter topic.

    ``truncated`` letters hold only a prefix of the original value, whose size and
    SHA-256 (hex) are ``original_size`` and ``original_sha256``.
    """

    position: SourcePosition
    key: bytes | None
    value: bytes | None
    reason: str
    error: str
    source: SourcePosition | None
    original_headers: Sequence[tuple[str, bytes]]
    truncated: bool = False
    original_size: int | None = None
    original_sha256: str | None = None

    @staticmethod
    def parse(
        position: SourcePosition,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> DeadLetter:
        """Read the ``dlq.*`` headers; missing or garbled ones become empty/``None``."""
        found = {k: v for k, v in headers if k in DLQ_HEADERS}

        def text(name: str) -> str:
            return found.get(name, b"").decode("utf-8", "replace")

        def number(name: str) -> int | None:
            try:
                return int(text(name))
            except ValueError:
                return None

        partition, offset = number(SOURCE_PARTITION), number(SOURCE_OFFSET)
        source: SourcePosition | None = None
        if text(SOURCE_TOPIC) and partition is not None and offset is not None:
            source = SourcePosition(text(SOURCE_TOPIC), partition, offset)
        return DeadLetter(
            position=position,
            key=key,
            value=value,
            reason=text(REASON),
            error=text(ERROR),
            source=source,
            original_headers=[(k, v) for k, v in headers if k not in DLQ_HEADERS],
            truncated=text(TRUNCATED) == "true",
            original_size=number(ORIGINAL_SIZE),
            original_sha256=text(ORIGINAL_SHA256) or None,
        )


class DeadLetterSink(Protocol):
    """Where rejects go. ``publish`` returns only once every letter is confirmed.

    A letter too large for the topic is published truncated (never treated as an
    outage). Raises ``InfrastructureError`` when the broker did not confirm them all.
    """

    def publish(self, rejected: Sequence[Rejected]) -> None: ...

"""Dead letters: what a rejected message looks like on the dead-letter topic.

A dead letter keeps the original key, value and headers, and adds
``dlq.reason`` (a ``RejectReason`` code), ``dlq.error`` and the source
``dlq.source.topic`` / ``.partition`` / ``.offset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from consumer.batch import Rejected, SourcePosition

REASON = "dlq.reason"
ERROR = "dlq.error"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"
DLQ_HEADERS = frozenset({REASON, ERROR, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET})
_MAX_ERROR_BYTES = 1000


def dead_letter_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for ``rejected`` (original headers kept, first)."""
    position = rejected.message.position
    original = [(k, v) for k, v in rejected.message.headers if k not in DLQ_HEADERS]
    return [
        *original,
        (REASON, rejected.reason.value.encode()),
        (ERROR, rejected.error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]),
        (SOURCE_TOPIC, position.topic.encode()),
        (SOURCE_PARTITION, str(position.partition).encode()),
        (SOURCE_OFFSET, str(position.offset).encode()),
    ]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message read back from the dead-letter topic."""

    position: SourcePosition
    key: bytes | None
    value: bytes | None
    reason: str
    error: str
    source: SourcePosition | None
    original_headers: Sequence[tuple[str, bytes]]

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

        source: SourcePosition | None = None
        try:
            source = SourcePosition(
                text(SOURCE_TOPIC), int(text(SOURCE_PARTITION)), int(text(SOURCE_OFFSET))
            )
        except ValueError:
            source = None
        return DeadLetter(
            position=position,
            key=key,
            value=value,
            reason=text(REASON),
            error=text(ERROR),
            source=source if source and source.topic else None,
            original_headers=[(k, v) for k, v in headers if k not in DLQ_HEADERS],
        )


class DeadLetterSink(Protocol):
    """Where rejects go. ``publish`` returns only once every letter is confirmed.

    Raises ``InfrastructureError`` when the broker did not confirm them all.
    """

    def publish(self, rejected: Sequence[Rejected]) -> None: ...

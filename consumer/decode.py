"""Decode and validate a polled batch: valid events on one side, rejects on the other.

A reject is a message that can never become valid (its reason is the
dead-letter code); decoding never raises.
"""

from __future__ import annotations

from collections.abc import Sequence

from consumer.batch import DecodedBatch, RawMessage, ReceivedEvent, Rejected
from domain.codec import EventDecodeError, RejectReason, decode_event, encode_event


def decode_message(message: RawMessage) -> ReceivedEvent | Rejected:
    """One message: the event it carries, or why it is rejected.

    The message key must be the event's ``order_id`` (the topics are keyed by
    it); a missing key is a ``key_mismatch``.
    """
    value = message.value if message.value is not None else b""
    try:
        event = decode_event(value, key=message.key if message.key is not None else b"")
    except EventDecodeError as error:
        if error.reason is RejectReason.KEY_MISMATCH and message.key is None:
            return Rejected(message, RejectReason.KEY_MISMATCH, "message has no key")
        return Rejected(message, error.reason, error.detail)
    # the canonical JSON of the history row, made here: decoding overlaps the
    # transaction of the batch before
    return ReceivedEvent(event, message.position, encode_event(event).decode(), message.value)


def decode_batch(messages: Sequence[RawMessage]) -> DecodedBatch:
    """Split ``messages`` and compute the next offset to commit per partition."""
    events: list[ReceivedEvent] = []
    rejected: list[Rejected] = []
    next_offsets: dict[tuple[str, int], int] = {}
    first_offsets: dict[tuple[str, int], int] = {}
    for message in messages:
        decoded = decode_message(message)
        if isinstance(decoded, Rejected):
            rejected.append(decoded)
        else:
            events.append(decoded)
        position = message.position
        partition = (position.topic, position.partition)
        next_offsets[partition] = max(next_offsets.get(partition, 0), position.offset + 1)
        first_offsets[partition] = min(
            first_offsets.get(partition, position.offset), position.offset
        )
    return DecodedBatch(events, rejected, next_offsets, first_offsets)

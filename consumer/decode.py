"""Decode and validate a polled batch: valid events on one side, rejects on the other.

A reject is a message that can never become valid (its reason is the
dead-letter code); decoding never raises.
"""

from __future__ import annotations

from collections.abc import Sequence

from consumer.batch import DecodedBatch, RawMessage, ReceivedEvent, Rejected
from domain.codec import EventDecodeError, decode_with_canonical


def decode_message(message: RawMessage) -> ReceivedEvent | Rejected:
    """One message: the event it carries, or why it is rejected.

    The message key must be the event's ``order_id`` (the topics are keyed by
    it): no key is a ``missing_key``, another key a ``key_mismatch``. A tombstone
    (no value) is ``invalid_json``.
    """
    value = message.value if message.value is not None else b""
    try:
        event, canonical = decode_with_canonical(value, key=message.key)
    except EventDecodeError as error:
        return Rejected(message, error.reason, error.detail)
    # the canonical JSON of the history row, made here: decoding overlaps the
    # transaction of the batch before (its id's text is cut from it)
    return ReceivedEvent(event, message.position, canonical.decode(), message.value)


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
        offset = position.offset
        after = next_offsets.get(partition)
        if after is None:
            next_offsets[partition] = offset + 1
            first_offsets[partition] = offset
            continue
        # a partition's messages come in offset order, but nothing here relies on it
        if offset >= after:
            next_offsets[partition] = offset + 1
        if offset < first_offsets[partition]:
            first_offsets[partition] = offset
    return DecodedBatch(events, rejected, next_offsets, first_offsets)

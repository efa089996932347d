"""What the producer sends: one Kafka message per event, keyed by order id."""

from __future__ import annotations

from typing import Literal, NamedTuple

from domain.codec import RejectReason, encode_event
from domain.events import Event

TopicKind = Literal["order-created", "status-changed"]
FaultKind = Literal["duplicate", "reorder", "late", "orphan", "malformed", "oversized", "illegal"]


class OutgoingMessage(NamedTuple):
    """One Kafka message to publish, with the fault it carries (if any).

    ``event`` is the decodable event the value encodes, or None for a malformed
    message; then ``expected_reason`` is the reject reason the codec gives it.
    ``timestamp_ms`` is the event time in ms (replay paces by it; the Kafka
    timestamp is the publish time). ``encoded`` is the value's bytes, or None
    when they were not computed yet (see :attr:`value`). A named tuple because
    millions are built per run and it is the cheapest immutable record.
    """

    topic_kind: TopicKind
    key: bytes
    encoded: bytes | None
    timestamp_ms: int
    fault: FaultKind | None = None
    expected_reason: RejectReason | None = None
    event: Event | None = None

    @property
    def value(self) -> bytes:
        """The message value: ``encoded``, or the event encoded now (again at every access).

        Raises ``ValueError`` for a message with neither (never built by this package).
        """
        if self.encoded is not None:
            return self.encoded
        if self.event is None:
            raise ValueError("message has neither a value nor an event")
        return encode_event(self.event)

    def with_fault(self, fault: FaultKind) -> OutgoingMessage:
        """The same message labelled with ``fault``."""
        return self._replace(fault=fault)


def message_for(
    event: Event, fault: FaultKind | None = None, *, encode: bool = True
) -> OutgoingMessage:
    """The message that carries ``event`` (keyed by order id, ``timestamp_ms`` = event time).

    ``encode=False`` leaves the value to be encoded on use (:attr:`OutgoingMessage.value`):
    cheaper for a writer that needs only the event, as the CSV writer does.
    """
    # positional: a keyword call of a named tuple is twice as slow, and this runs
    # once per generated event
    return OutgoingMessage(
        event.event_type,
        event.order_id.encode(),
        encode_event(event) if encode else None,
        round(event.occurred_at.timestamp() * 1000),  # = event_time_ms(event)
        fault,
        None,
        event,
    )


def timed_message(timestamp_ms: int, event: Event, encode: bool = True) -> OutgoingMessage:
    """``message_for(event, encode=encode)`` when the event time in ms is known already.

    ``timestamp_ms`` must be ``event_time_ms(event)``: the simulation knows it, and
    converting the datetime back would cost a tenth of generating the event.
    """
    return OutgoingMessage(
        event.event_type,
        event.order_id.encode(),
        encode_event(event) if encode else None,
        timestamp_ms,
        None,
        None,
        event,
    )


def event_time_ms(event: Event) -> int:
    """The event time in whole milliseconds since the epoch (rounded to the nearest ms)."""
    # float arithmetic is exact enough at ms resolution and far cheaper than timedelta math
    return round(event.occurred_at.timestamp() * 1000)

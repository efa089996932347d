"""The story of a batch, as data: what came in, what was applied, what was rejected.

Kafka messages and file rows are turned into these plain values at the edge, so
the apply path and its tests never see a driver object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.codec import RejectReason, encode_event
from domain.events import Event
from domain.records import record
from infra.defaults import DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE  # the settings' default


@record
class SourcePosition:
    """Where a message was read: ``topic[partition]@offset``."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@record
class RawMessage:
    """One message as read from a topic (bytes untouched)."""

    position: SourcePosition
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp_ms: int | None = None


@record
class ReceivedEvent:
    """A decoded, valid event and where it came from (``None`` for file ingest).

    ``payload`` is the event's canonical JSON (``domain.codec.encode_event``) when
    it was already made, so the history row need not encode it again.
    """

    event: Event
    source: SourcePosition | None = None
    payload: str | None = None
    #: the message value as received (for a dead letter of a conflicting duplicate)
    raw: bytes | None = None
    #: ``str(event.event_id)``, made once (given, else made here): the batch, its
    #: verdicts and its history rows are keyed by this text
    id_text: str = ""

    def __post_init__(self) -> None:
        if not self.id_text:
            payload = self.payload
            # canonical JSON starts with the id's text: cheaper to cut out than to make
            # again from the UUID (once per event read, from a topic or a file)
            if payload is not None and payload.startswith(_ID_FIRST):
                text = payload[_ID_START:_ID_END]
            else:
                text = str(self.event.event_id)
            object.__setattr__(self, "id_text", text)


_ID_FIRST = '{"event_id":"'
_ID_START = len(_ID_FIRST)
_ID_END = _ID_START + 36  # the hyphenated form of a UUID


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that failed decoding/validation: it goes to the dead-letter topic."""

    message: RawMessage
    reason: RejectReason
    error: str


#: next offset to read per (topic, partition)
Offsets = Mapping[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A polled batch split into valid events and rejects, with its offsets to commit."""

    events: Sequence[ReceivedEvent]
    rejected: Sequence[Rejected]
    next_offsets: Offsets = field(default_factory=dict)
    #: the first offset read per (topic, partition): where to read again from
    first_offsets: Offsets = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.events) + len(self.rejected)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What applying a batch did (the numbers behind the metrics).

    ``applied`` events were new to history; ``duplicates`` were already there (or
    repeated in the batch); ``stale`` were older than their order's current status;
    ``orphaned`` are status changes whose order's creation has not arrived;
    ``illegal`` history rows were judged illegal while applying this batch;
    ``conflicting`` events reused a stored (or earlier) event id with different
    content: they were not applied, and ``conflicts`` holds this batch's ones (to be
    dead-lettered; a sum of outcomes keeps only the count); ``alerts`` SLA alerts
    were recorded in the batch's transaction (to publish once it has committed).
    """

    received: int = 0
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    orphaned: int = 0
    illegal: int = 0
    orders_touched: int = 0
    conflicting: int = 0
    conflicts: tuple[Conflict, ...] = ()
    alerts: int = 0

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        return BatchOutcome(
            received=self.received + other.received,
            applied=self.applied + other.applied,
            duplicates=self.duplicates + other.duplicates,
            stale=self.stale + other.stale,
            orphaned=self.orphaned + other.orphaned,
            illegal=self.illegal + other.illegal,
            orders_touched=self.orders_touched + other.orders_touched,
            conflicting=self.conflicting + other.conflicting,
            alerts=self.alerts + other.alerts,
        )


@dataclass(frozen=True, slots=True)
class Conflict:
    """An event whose ``event_id`` is already taken by an event with other content."""

    received: ReceivedEvent
    detail: str

    def as_rejected(self) -> Rejected:
        """The dead letter's view of it: the original bytes when known, else its JSON."""
        received, event = self.received, self.received.event
        position = received.source or SourcePosition("", -1, -1)
        value = received.raw
        if value is None:
            value = received.payload.encode() if received.payload else encode_event(event)
        message = RawMessage(position, event.order_id.encode("utf-8"), value)
        return Rejected(message, RejectReason.CONFLICTING_DUPLICATE, self.detail)


def batch_span(batch: DecodedBatch) -> str:
    """The offsets read, per partition: ``topic[partition]@first..last``, comma-joined."""
    return ",".join(
        f"{t}[{p}]@{batch.first_offsets.get((t, p), o - 1)}..{o - 1}"
        for (t, p), o in sorted(batch.next_offsets.items())
    )

"""What the consumer needs from storage and from the broker, as protocols
(implemented in ``infra.db`` and ``infra.kafka``).

The unit of work is a context manager that rolls back unless ``commit()`` is
called; the repository behind it does set-based writes (no per-event round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from consumer.batch import Offsets, RawMessage, ReceivedEvent
from domain.alerts import AlertedState, SlaAlert
from domain.lifecycle import OrderStatus
from domain.order import OrderSummary, Precedence
from domain.records import record
from domain.sla import SlaInput, SlaPolicy, SlaState


@record
class OrderHead:
    """An order's latest event as its ``sales`` row holds it, read before a batch.

    ``precedence`` is ``domain.order.precedence`` of that event; ``event_count``
    is how many history events the row has folded so far.
    """

    status: OrderStatus
    precedence: Precedence
    event_count: int


@record
class SaleState:
    """An order's row right after an upsert: enough to count stale and orphaned events
    and to see whether another transaction changed the order since its head was read."""

    order_id: str
    status_event_id: str
    awaiting_creation: bool
    event_count: int


@dataclass(frozen=True, slots=True)
class PartitionClaim:
    """What the database holds for a partition a member has just been assigned.

    ``epoch`` is the member's new owner epoch (offsets are recorded only under it);
    ``next_offset`` the recorded next offset (0: nothing recorded yet) and
    ``topic_id`` the Kafka topic id it was recorded for (``None``: unknown).
    """

    epoch: int
    next_offset: int
    topic_id: str | None


@dataclass(frozen=True, slots=True)
class PartitionOwner:
    """The epoch (and topic id) a batch's offsets are recorded under."""

    epoch: int
    topic_id: str | None


#: ``legal`` to store per event id (``None``: not decided yet, or no earlier event)
Verdicts = Mapping[str, bool | None]


class OrderRepository(Protocol):
    """``order_history``, ``sales`` and ``consumer_offsets`` inside one transaction."""

    def read_heads(self, order_ids: Collection[str]) -> dict[str, OrderHead]:
        """The current head of each order that has a ``sales`` row (others are left out)."""
        ...

    def append_history(
        self, events: Mapping[str, ReceivedEvent], verdicts: Verdicts | None = None
    ) -> list[ReceivedEvent]:
        """Append the events (distinct, by ``event_id`` text) whose id is new, with
        ``legal`` from ``verdicts`` (missing: ``NULL``); return exactly those (in order)."""
        ...

    def read_payloads(self, event_ids: Collection[str]) -> dict[str, str]:
        """The stored canonical JSON of those ``event_ids`` that are in history."""
        ...

    def upsert_sales(
        self, summaries: Sequence[OrderSummary], illegal: Mapping[str, int] | None = None
    ) -> list[SaleState]:
        """Merge one summary per order into ``sales``, moving forward in event time only.

        ``illegal`` (per order) is added to ``illegal_transitions``.
        """
        ...

    def rejudge(self, order_ids: Collection[str]) -> int:
        """Recompute ``legal`` of these orders' whole history and their ``illegal_transitions``.

        Returns how many history rows were newly judged illegal.
        """
        ...

    def record_offsets(
        self,
        consumer_group: str,
        offsets: Offsets,
        owners: Mapping[tuple[str, int], PartitionOwner] | None = None,
    ) -> None:
        """Remember the next offset per partition (never moves backwards).

        A partition with an owner in ``owners`` is recorded only while its owner epoch
        is still that one; otherwise ``consumer.errors.PartitionFenced`` is raised (the
        partition was assigned to another member since) and the transaction must not
        commit.
        """
        ...

    def claim_partitions(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], PartitionClaim]:
        """Raise the owner epoch of each partition (creating its row if needed) and
        return what is recorded for it."""
        ...

    def reset_offsets(
        self, consumer_group: str, partitions: Mapping[tuple[str, int], str | None]
    ) -> None:
        """Forget the recorded offsets of ``partitions`` (they belong to another topic
        of the same name), recording the current topic id given for each."""
        ...

    def read_offsets(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The recorded next offsets of ``partitions`` (missing ones are left out)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving it without ``commit()`` rolls back.

    Raises ``consumer.errors.InfrastructureError`` when the database is unreachable.
    """

    @property
    def orders(self) -> OrderRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class MessageSource(Protocol):
    """A consumer-group member that reads batches and commits explicit offsets.

    Methods raise ``InfrastructureError`` when the broker cannot be used.
    """

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]: ...

    def commit(self, offsets: Offsets) -> None: ...

    def lag(self) -> Mapping[tuple[str, int], int]: ...

    def close(self) -> None: ...


@runtime_checkable
class GroupMember(Protocol):
    """What a ``MessageSource`` that joins a consumer group may also offer."""

    def joined(self) -> bool:
        """Whether the group has given this member an assignment yet (even an empty one)."""
        ...

    def set_before_revoke(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` (on the polling thread) before partitions are taken away."""
        ...


class PartitionLedger(Protocol):
    """The database's side of partition ownership, used when partitions are assigned.

    Methods raise ``InfrastructureError`` when the database is unreachable.
    """

    def claim(
        self, partitions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], PartitionClaim]:
        """``OrderRepository.claim_partitions`` in a transaction of its own."""
        ...

    def reset(self, partitions: Mapping[tuple[str, int], str | None]) -> None:
        """``OrderRepository.reset_offsets`` in a transaction of its own."""
        ...


@runtime_checkable
class FencedMember(Protocol):
    """A ``MessageSource`` that claims its partitions in the database when assigned."""

    def owners(self) -> Mapping[tuple[str, int], PartitionOwner]:
        """The owner epoch (and topic id) of each partition assigned now."""
        ...

    def rewind(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Read these partitions again from these offsets (those still assigned)."""
        ...


@runtime_checkable
class BrokerContact(Protocol):
    """A ``MessageSource`` that can tell that no broker answers."""

    def unreachable(self) -> str | None:
        """Where no broker answers and why (``None``: one does, as far as is known)."""
        ...


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """What an alert evaluation needs of one order: its SLA input, the event time of
    its latest event and what was last announced for it (``None``: nothing)."""

    order: SlaInput
    latest_event_at: datetime
    last: AlertedState | None


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert to record, with what the order's announced state moves from and to."""

    alert: SlaAlert
    before: AlertedState | None
    after: AlertedState


class AlertRepository(Protocol):
    """``sla_alert_state`` (what was last announced per order) and the outbox of alerts
    not yet published, inside the caller's transaction."""

    def read_policy(self) -> SlaPolicy:
        """The deadline policy per shipping tier (the ``sla_policy`` table)."""
        ...

    def read_subjects(self, order_ids: Collection[str]) -> list[AlertSubject]:
        """Those of ``order_ids`` whose creation has arrived."""
        ...

    def read_open_subjects(self) -> list[AlertSubject]:
        """Open orders (no delivery, cancellation, loss or return) whose creation has
        arrived and that were not last announced breached: those time can move."""
        ...

    def record(self, changes: Sequence[AlertChange]) -> list[SlaAlert]:
        """Move each order's announced state from ``before`` to ``after`` -- only if it
        is still ``before`` (another writer may have moved it) -- and queue its alert;
        return the alerts queued."""
        ...

    def pending(self, limit: int) -> list[SlaAlert]:
        """Up to ``limit`` queued alerts, oldest first."""
        ...

    def forget(self, alert_ids: Collection[str]) -> None:
        """Remove published alerts from the queue."""
        ...

    def count_alerting(self) -> dict[SlaState, int]:
        """How many orders were last announced in each alert-worthy state."""
        ...


class AlertSink(Protocol):
    """The alert topic."""

    def topic_exists(self) -> bool | None:
        """Whether the alert topic exists (``None``: the broker did not answer)."""
        ...

    def publish(self, alerts: Sequence[SlaAlert]) -> None:
        """Publish alerts (JSON, keyed by ``order_id``) and wait for every
        acknowledgement; raises ``InfrastructureError`` otherwise."""
        ...

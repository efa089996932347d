"""An order's current state as a fold over its events.

:func:`merge` is commutative and associative and :func:`summarize` turns one
event into a summary, so folding any permutation of any duplicate-free set of
an order's events gives the same result. These functions state the rules
readably; the consumer folds and judges each batch with their one-pass
equivalents in :mod:`domain.ranked` before the database upsert (which applies
the same rules in SQL), and ``db rebuild-sales`` folds the whole history here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from domain.events import Event, OrderCreated, ShippingTier, event_status
from domain.lifecycle import OrderStatus, is_legal, rank
from domain.records import record

#: Statuses whose first event time is kept on the order as a milestone, with the
#: name under which it is kept (the ``sales`` column and the reports use these names).
MILESTONE_FIELDS: dict[OrderStatus, str] = {
    OrderStatus.APPROVED: "approved_at",
    OrderStatus.PACKED: "packed_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.OUT_FOR_DELIVERY: "out_for_delivery_at",
    OrderStatus.DELIVERY_FAILED: "first_failed_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.RETURNED_TO_SENDER: "returned_at",
    OrderStatus.LOST: "lost_at",
    OrderStatus.CANCELLED: "cancelled_at",
}

Precedence = tuple[datetime, int, str]


def precedence(occurred_at: datetime, status: OrderStatus, event_id: UUID) -> Precedence:
    """Total order of an order's events: event time, then status rank, then event id.

    The greatest is "the latest event"; it decides the order's current status.
    """
    return (occurred_at, rank(status), str(event_id))


def event_precedence(event: Event) -> Precedence:
    """:func:`precedence` of ``event``."""
    return precedence(event.occurred_at, event_status(event), event.event_id)


@record
class OrderFacts:
    """What ``order-created`` says about an order."""

    event_id: UUID
    created_at: datetime
    customer_id: str
    customer_name: str
    product_sku: str
    product_name: str
    quantity: int
    unit_price: Decimal
    currency: str
    shipping_tier: ShippingTier
    carrier: str
    destination_region: str
    promised_delivery_at: datetime | None

    @property
    def total_amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @staticmethod
    def from_event(event: OrderCreated) -> OrderFacts:
        return OrderFacts(
            event_id=event.event_id,
            created_at=event.occurred_at,
            customer_id=event.customer_id,
            customer_name=event.customer_name,
            product_sku=event.product_sku,
            product_name=event.product_name,
            quantity=event.quantity,
            unit_price=event.unit_price,
            currency=event.currency,
            shipping_tier=event.shipping_tier,
            carrier=event.carrier,
            destination_region=event.destination_region,
            promised_delivery_at=event.promised_delivery_at,
        )


@record
class OrderSummary:
    """The state implied by a set of one order's events.

    ``facts`` is ``None`` while the order's creation has not arrived (an
    orphan). ``milestones`` maps a status to the first event time it was reached.
    """

    order_id: str
    facts: OrderFacts | None
    status: OrderStatus
    status_at: datetime
    status_event_id: UUID
    milestones: Mapping[OrderStatus, datetime] = field(default_factory=dict)
    failed_attempts: int = 0
    event_count: int = 1

    @property
    def awaiting_creation(self) -> bool:
        return self.facts is None

    @property
    def status_precedence(self) -> Precedence:
        return precedence(self.status_at, self.status, self.status_event_id)


def summarize(event: Event) -> OrderSummary:
    """The summary of a single event."""
    status = event_status(event)
    return OrderSummary(
        order_id=event.order_id,
        facts=OrderFacts.from_event(event) if isinstance(event, OrderCreated) else None,
        status=status,
        status_at=event.occurred_at,
        status_event_id=event.event_id,
        milestones={status: event.occurred_at} if status in MILESTONE_FIELDS else {},
        failed_attempts=1 if status is OrderStatus.DELIVERY_FAILED else 0,
    )


def merge(a: OrderSummary, b: OrderSummary) -> OrderSummary:
    """Combine two summaries of the same order (disjoint event sets).

    Raises ``ValueError`` for summaries of different orders.
    """
    if a.order_id != b.order_id:
        raise ValueError(f"cannot merge order {a.order_id!r} with {b.order_id!r}")
    latest = a if a.status_precedence >= b.status_precedence else b
    milestones = dict(a.milestones)
    for status, at in b.milestones.items():
        milestones[status] = min(at, milestones.get(status, at))
    return OrderSummary(
        order_id=a.order_id,
        facts=_earliest_facts(a.facts, b.facts),
        status=latest.status,
        status_at=latest.status_at,
        status_event_id=latest.status_event_id,
        milestones=milestones,
        failed_attempts=a.failed_attempts + b.failed_attempts,
        event_count=a.event_count + b.event_count,
    )


def _earliest_facts(a: OrderFacts | None, b: OrderFacts | None) -> OrderFacts | None:
    # Two creations for one order should not happen; if they do, the earliest
    # (by event time, then event id) wins, whatever order they arrive in.
    if a is None or b is None:
        return a or b
    return a if (a.created_at, str(a.event_id)) <= (b.created_at, str(b.event_id)) else b


def fold(events: Iterable[Event]) -> dict[str, OrderSummary]:
    """Summaries by order id of distinct events (duplicates must be removed first)."""
    result: dict[str, OrderSummary] = {}
    for event in events:
        summary = summarize(event)
        current = result.get(event.order_id)
        result[event.order_id] = summary if current is None else merge(current, summary)
    return result


def judge_transitions(events: Iterable[Event]) -> dict[UUID, bool | None]:
    """Whether each event of one order is a legal move from the event before it.

    Events are taken in :func:`precedence` order. A status change with no
    earlier event is ``None`` (unknown: its order's creation has not arrived).
    """
    verdicts: dict[UUID, bool | None] = {}
    previous: OrderStatus | None = None
    for event in sorted(events, key=event_precedence):
        status = event_status(event)
        if previous is None and status is not OrderStatus.PENDING:
            verdicts[event.event_id] = None
        else:
            verdicts[event.event_id] = is_legal(previous, status)
        previous = status
    return verdicts

"""The order lifecycle: one transition table shared by producer and consumer.

The producer walks it to pick legal next steps; the consumer uses it to judge
whether what arrived is a legal move. Nothing here knows about Kafka, SQL or
files.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order is in its life. ``PENDING`` is set by ``order-created``."""

    PENDING = "pending"
    APPROVED = "approved"
    PROCESSING = "processing"
    PACKED = "packed"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"
    CANCELLED = "cancelled"


#: Legal moves. A status missing from the values of every entry is reachable
#: only as the initial status (``PENDING``); a status with no moves is terminal.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.APPROVED, OrderStatus.CANCELLED}),
    OrderStatus.APPROVED: frozenset({OrderStatus.PROCESSING, OrderStatus.CANCELLED}),
    OrderStatus.PROCESSING: frozenset({OrderStatus.PACKED, OrderStatus.CANCELLED}),
    OrderStatus.PACKED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.IN_TRANSIT, OrderStatus.LOST}),
    OrderStatus.IN_TRANSIT: frozenset({OrderStatus.OUT_FOR_DELIVERY, OrderStatus.LOST}),
    OrderStatus.OUT_FOR_DELIVERY: frozenset(
        {OrderStatus.DELIVERED, OrderStatus.DELIVERY_FAILED, OrderStatus.LOST}
    ),
    OrderStatus.DELIVERY_FAILED: frozenset(
        {OrderStatus.OUT_FOR_DELIVERY, OrderStatus.RETURNED_TO_SENDER}
    ),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.RETURNED_TO_SENDER: frozenset(),
    OrderStatus.LOST: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

#: Tie-break between two events of one order with the same event time: the
#: higher rank is taken as the later event. Terminal statuses rank highest so a
#: tie never moves an order out of a final state.
RANK: Mapping[OrderStatus, int] = {
    OrderStatus.PENDING: 0,
    OrderStatus.APPROVED: 10,
    OrderStatus.PROCESSING: 20,
    OrderStatus.PACKED: 30,
    OrderStatus.SHIPPED: 40,
    OrderStatus.IN_TRANSIT: 50,
    OrderStatus.OUT_FOR_DELIVERY: 60,
    OrderStatus.DELIVERY_FAILED: 65,
    OrderStatus.DELIVERED: 100,
    OrderStatus.RETURNED_TO_SENDER: 101,
    OrderStatus.LOST: 102,
    OrderStatus.CANCELLED: 103,
}

INITIAL_STATUS = OrderStatus.PENDING

#: Statuses a ``status-changed`` event may carry (every status but the initial one).
CHANGE_STATUSES: frozenset[OrderStatus] = frozenset(
    s for s in OrderStatus if s is not OrderStatus.PENDING
)


def legal_next(status: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses an order in ``status`` may move to."""
    return TRANSITIONS[status]


def is_legal(previous: OrderStatus | None, new: OrderStatus) -> bool:
    """Whether moving from ``previous`` to ``new`` is allowed.

    ``previous`` is ``None`` when nothing earlier is known: only the initial
    status is a legal first step.
    """
    if previous is None:
        return new is INITIAL_STATUS
    return new in TRANSITIONS[previous]


def is_terminal(status: OrderStatus) -> bool:
    """Whether no further move is legal from ``status``."""
    return not TRANSITIONS[status]


def rank(status: OrderStatus) -> int:
    """Tie-break rank of ``status`` (higher wins at equal event time)."""
    return RANK[status]


def mermaid_diagram() -> str:
    """The transition table as a Mermaid state diagram (kept in docs/)."""
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL_STATUS.value}"]
    for source, targets in TRANSITIONS.items():
        for target in sorted(targets, key=rank):
            lines.append(f"    {source.value} --> {target.value}")
        if not targets:
            lines.append(f"    {source.value} --> [*]")
    return "\n".join(lines) + "\n"

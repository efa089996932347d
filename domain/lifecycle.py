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


S = OrderStatus

#: Legal moves. A status missing from the values of every entry is reachable
#: only as the initial status (``PENDING``); a status with no moves is terminal.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.APPROVED, S.CANCELLED}),
    S.APPROVED: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.PACKED, S.CANCELLED}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.IN_TRANSIT, S.LOST}),
    S.IN_TRANSIT: frozenset({S.OUT_FOR_DELIVERY, S.LOST}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.DELIVERY_FAILED, S.LOST}),
    S.DELIVERY_FAILED: frozenset({S.OUT_FOR_DELIVERY, S.RETURNED_TO_SENDER}),
    S.DELIVERED: frozenset(),
    S.RETURNED_TO_SENDER: frozenset(),
    S.LOST: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Tie-break between two events of one order with the same event time: the
#: higher rank is taken as the later event. Terminal statuses rank highest so a
#: tie never moves an order out of a final state.
RANK: Mapping[OrderStatus, int] = {
    S.PENDING: 0,
    S.APPROVED: 10,
    S.PROCESSING: 20,
    S.PACKED: 30,
    S.SHIPPED: 40,
    S.IN_TRANSIT: 50,
    S.OUT_FOR_DELIVERY: 60,
    S.DELIVERY_FAILED: 65,
    S.DELIVERED: 100,
    S.RETURNED_TO_SENDER: 101,
    S.LOST: 102,
    S.CANCELLED: 103,
}

INITIAL_STATUS = S.PENDING

#: Statuses a ``status-changed`` event may carry (every status but the initial one).
CHANGE_STATUSES: frozenset[OrderStatus] = frozenset(s for s in OrderStatus if s is not S.PENDING)


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

"""A reference model of the final database, written from the documentation alone.

It shares no code with the pipeline: nothing from ``consumer``, ``infra`` or ``domain``
is imported. The wire format is read by ``tests.faults.reference_wire``; the
lifecycle table and the tie-break from ``docs/lifecycle.md``; deduplication, orphans
and illegal transitions from ``docs/consumer.md`` and the product brief; deadlines and
SLA states from ``docs/sla.md`` (the seeded default policy).

Readings of the documents where they leave room (kept here so that a difference with
the pipeline can be traced to one of them):

- Ranks: the statuses in the order of the status table of ``docs/lifecycle.md``; the
  four terminal statuses rank above all others, among themselves in that table's order.
- Ties: equal event time and rank are broken by the event id, the greater one later.
- Legality: each event is judged against the event before it in that order. The first
  event of an order is legal when it is the creation, otherwise undecided (NULL).
- Currency "ISO 4217": three capital letters not starting with X (the X codes are
  not currencies: XXX means "no currency", XTS is for testing).
- A conflicting duplicate (same event id, other content) is the later one to arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from tests.faults.reference_wire import Invalid, WireEvent, parse

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"pending"}),
    "pending": frozenset({"approved", "cancelled"}),
    "approved": frozenset({"processing", "cancelled"}),
    "processing": frozenset({"packed", "cancelled"}),
    "packed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"in_transit", "lost"}),
    "in_transit": frozenset({"out_for_delivery", "lost"}),
    "out_for_delivery": frozenset({"delivery_failed", "delivered", "lost"}),
    "delivery_failed": frozenset({"out_for_delivery", "returned_to_sender"}),
}
#: ``sales`` column holding the first event time of each milestone status.
MILESTONE_COLUMNS = {
    "approved": "approved_at", "packed": "packed_at", "shipped": "shipped_at",
    "out_for_delivery": "out_for_delivery_at", "delivery_failed": "first_failed_at",
    "delivered": "delivered_at", "returned_to_sender": "returned_at", "lost": "lost_at",
    "cancelled": "cancelled_at",
}  # fmt: skip
#: docs/sla.md, seeded policy: (promise days, end of day, ship within hours); 25 % at risk.
POLICY = {
    "economy": (7, False, 72), "standard": (5, False, 48), "express": (2, False, 24),
    "same_day": (0, True, 6),
}  # fmt: skip
AT_RISK_PCT = 25


@dataclass
class Order:
    """What the documents say one order's ``sales`` row and history must hold."""

    order_id: str
    events: list[WireEvent] = field(default_factory=list)

    @property
    def ordered(self) -> list[WireEvent]:
        return sorted(self.events, key=lambda e: e.precedence)

    @property
    def latest(self) -> WireEvent:
        return self.ordered[-1]

    @property
    def creation(self) -> WireEvent | None:
        return next((e for e in self.ordered if e.event_type == "order-created"), None)

    def verdicts(self) -> dict[str, bool | None]:
        """Event id -> legal (None: the first event of the order, and not its creation)."""
        result: dict[str, bool | None] = {}
        previous: str | None = None
        for n, event in enumerate(self.ordered):
            if n == 0:
                result[event.event_id] = True if event.status == "pending" else None
            else:
                result[event.event_id] = event.status in TRANSITIONS.get(previous, frozenset())
            previous = event.status
        return result

    @property
    def illegal_transitions(self) -> int:
        return sum(1 for legal in self.verdicts().values() if legal is False)

    def milestones(self) -> dict[str, datetime]:
        first: dict[str, datetime] = {}
        for event in self.ordered:
            first.setdefault(event.status, event.occurred_at)
        return first

    def sla_state(self, as_of: datetime) -> str | None:
        """The state of docs/sla.md at ``as_of``; None when the order is left out.

        An at-risk state names the first rule that holds: ``at_risk/not_shipped``.
        """
        creation = self.creation
        if creation is None or creation.occurred_at > as_of:
            return None
        facts = dict(creation.facts)
        created = creation.occurred_at
        days, end_of_day, ship_within = POLICY[facts["shipping_tier"]]
        due = created + timedelta(days=days)
        if end_of_day:
            due = datetime.combine(due.date(), time.max, tzinfo=UTC)
        due = facts["promised_delivery_at"] or due
        reached = {s: t for s, t in self.milestones().items() if t <= as_of}
        if "delivered" in reached:
            return "met" if reached["delivered"] <= due else "missed"
        if "cancelled" in reached:
            return "cancelled"
        if "lost" in reached or "returned_to_sender" in reached:
            return "lost"
        if as_of > due:
            return "breached"
        if "shipped" not in reached and as_of - created > timedelta(hours=ship_within):
            return "at_risk/not_shipped"
        if "delivery_failed" in reached:
            return "at_risk/delivery_failed"
        near = (due - as_of) * 100 < (due - created) * AT_RISK_PCT
        if near and "out_for_delivery" not in reached:
            return "at_risk/deadline_near"
        return "on_track"


@dataclass
class Reference:
    """The expected outcome of a stream of ``(key, value)`` messages, in arrival order."""

    orders: dict[str, Order] = field(default_factory=dict)
    rejected: int = 0
    conflicting: int = 0
    duplicates: int = 0

    @classmethod
    def of(cls, messages: Iterable[tuple[bytes | None, bytes | None]]) -> Reference:
        reference = cls()
        seen: dict[str, WireEvent] = {}
        for key, value in messages:
            try:
                event = parse(key, value)
            except Invalid:
                reference.rejected += 1
                continue
            if (known := seen.setdefault(event.event_id, event)) is not event:
                if known == event:
                    reference.duplicates += 1
                else:
                    reference.conflicting += 1
                continue
            order = reference.orders.setdefault(event.order_id, Order(event.order_id))
            order.events.append(event)
        return reference

    def history(self) -> dict[str, tuple[str, bool | None]]:
        """Event id -> (order id, legal) of every distinct valid event."""
        return {
            event_id: (order.order_id, legal)
            for order in self.orders.values()
            for event_id, legal in order.verdicts().items()
        }


def sla_states(orders: Sequence[Order], as_of: datetime) -> dict[str, str]:
    """Order id -> SLA state at ``as_of`` of the orders the figures include."""
    return {o.order_id: state for o in orders if (state := o.sla_state(as_of)) is not None}

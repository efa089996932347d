"""One order's story, told from ``order_history``: every event in precedence order,
where it came from, and the SLA clock after each step.

The clock at a step is ``domain.sla.evaluate`` of the order folded from the events
that had happened by that step's event time (``domain.order.fold``), with the
``sla_policy`` table as policy: what a database holding only those events showed.
Failures surface as SQLAlchemy errors, as for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select

from domain.codec import decode_event
from domain.events import Event, ShippingTier
from domain.order import event_precedence, fold
from domain.sla import OrderSla, SlaInput, SlaPolicy, SlaState, TierPolicy, evaluate
from infra.db.models import OrderHistory, Sale
from infra.db.sla_policy import sla_policy

#: Said instead of a count: history keeps each distinct event once and the consumer
#: counts duplicates only in total, so no per-event figure exists to show.
DUPLICATES_NOTE = (
    "duplicates received are not recorded per event: order_history keeps each distinct"
    " event once; the consumer counts duplicates in total only"
    " (metric sla_pipeline_events_duplicate_total)"
)
PRECEDENCE_RULE = "the latest event by (event time, status rank, event id) decides the status"


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the order and the SLA clock right after it."""

    event_id: str
    event_type: str
    status: str
    occurred_at: datetime
    ingested_at: datetime
    topic: str | None
    partition: int | None
    offset: int | None
    #: None while undecidable (no earlier event of the order known)
    legal: bool | None
    #: None while the creation had not happened yet, or no deadline can be set
    sla: OrderSla | None


@dataclass(frozen=True, slots=True)
class OrderStory:
    """Everything ``sla-pipeline order`` prints about one order at ``as_of``."""

    order_id: str
    as_of: datetime
    steps: list[Step]
    shipping_tier: str | None
    carrier: str | None
    destination_region: str | None
    #: the policy of the order's tier (None: no row for it)
    policy: TierPolicy | None
    status: str
    status_event_id: str
    failed_attempts: int
    #: the SLA at ``as_of`` (None: creation not arrived, or no deadline can be set)
    sla: OrderSla | None
    #: later events in history, left out because they happened after ``as_of``
    later_events: int

    @property
    def illegal_transitions(self) -> int:
        return sum(1 for s in self.steps if s.legal is False)

    @property
    def sla_rule(self) -> str:
        """Why the SLA state is what it is, in words."""
        return decide_rule(self.sla, self.policy, self.as_of)


def _hours(delta: timedelta) -> str:
    return f"{abs(delta) / timedelta(hours=1):.1f} h"


def decide_rule(sla: OrderSla | None, policy: TierPolicy | None, as_of: datetime) -> str:
    """The rule of ``domain.sla.evaluate`` that gave ``sla.state``, in words."""
    if sla is None:
        return "no SLA: the creation has not arrived, or the tier has no policy and no promise"
    due = f"{sla.deadline_at:%Y-%m-%d %H:%M:%S} UTC"
    late = sla.lateness or timedelta(0)
    rules = {
        SlaState.MET: f"delivered {_hours(late)} before or at the deadline {due}",
        SlaState.MISSED: f"delivered {_hours(late)} after the deadline {due}",
        SlaState.CANCELLED: "cancelled before any delivery",
        SlaState.LOST: "lost in transit or returned to sender, never delivered",
        SlaState.BREACHED: f"deadline {due} passed {_hours(late)} ago, not delivered",
        SlaState.ON_TRACK: f"open, deadline {due} in {_hours(late)}, no at-risk rule matched",
    }
    if sla.state is not SlaState.AT_RISK:
        return rules[sla.state]
    reason = sla.at_risk_reason.value if sla.at_risk_reason else ""
    if reason == "not_shipped" and policy is not None:
        return f"at risk: not shipped within {policy.ship_within_hours} h of creation"
    if reason == "deadline_near" and policy is not None:
        return (
            f"at risk: less than {policy.at_risk_remaining_pct}% of the promise window"
            f" left (deadline {due}) and not out for delivery"
        )
    if reason == "delivery_failed":
        return "at risk: a delivery attempt failed"
    return f"at risk: {reason}"


def load_policy(conn: Connection) -> SlaPolicy:
    """The ``sla_policy`` table as a ``domain.sla`` policy (unknown tiers left out)."""
    policy: dict[ShippingTier, TierPolicy] = {}
    known = {t.value for t in ShippingTier}
    for row in conn.execute(select(sla_policy)):
        if row.shipping_tier in known:
            policy[ShippingTier(row.shipping_tier)] = TierPolicy(
                promise_days=row.promise_days,
                business_days=bool(row.business_days),
                end_of_day=bool(row.end_of_day),
                ship_within_hours=row.ship_within_hours,
                at_risk_remaining_pct=row.at_risk_remaining_pct,
            )
    return policy


def _clock(events: list[Event], policy: SlaPolicy, at: datetime) -> OrderSla | None:
    """The SLA at ``at`` of the order made of those ``events`` that happened by then."""
    happened = [e for e in events if e.occurred_at <= at]
    if not happened:
        return None
    summary = fold(happened)[happened[0].order_id]
    order = SlaInput.from_summary(summary)
    if order is None:
        return None
    try:
        return evaluate(order, policy, at)
    except KeyError:  # no explicit promise and no policy row for the tier
        return None


def load_story(engine: Engine, order_id: str, as_of: datetime) -> OrderStory | None:
    """The story of ``order_id`` up to ``as_of``; None when history has no such order."""
    h = OrderHistory
    with engine.connect() as conn:
        sale = conn.execute(
            select(Sale.shipping_tier, Sale.carrier, Sale.destination_region).where(
                Sale.order_id == order_id
            )
        ).one_or_none()
        if sale is None:
            return None
        rows = conn.execute(
            select(h.__table__)
            .where(h.order_id == order_id)
            .order_by(h.occurred_at, h.status_rank, h.event_id)
        ).all()
        policy = load_policy(conn)
    if not rows:
        return None
    records = list(rows)
    events = [decode_event(r.payload.encode("utf-8")) for r in records]
    # The domain's precedence, not the database's collation, orders equal event times.
    paired = sorted(zip(records, events, strict=True), key=lambda p: event_precedence(p[1]))
    shown = [(r, e) for r, e in paired if r.occurred_at <= as_of]
    if not shown:
        return None
    steps = [
        Step(
            event_id=r.event_id,
            event_type=r.event_type,
            status=r.status,
            occurred_at=r.occurred_at,
            ingested_at=r.ingested_at,
            topic=r.source_topic,
            partition=r.source_partition,
            offset=r.source_offset,
            legal=r.legal,
            sla=_clock(events, policy, r.occurred_at),
        )
        for r, e in shown
    ]
    summary = fold(e for _, e in shown)[order_id]
    tier = sale.shipping_tier
    return OrderStory(
        order_id=order_id,
        as_of=as_of,
        steps=steps,
        shipping_tier=tier,
        carrier=sale.carrier,
        destination_region=sale.destination_region,
        policy=policy.get(ShippingTier(tier)) if tier in {t.value for t in ShippingTier} else None,
        status=summary.status.value,
        status_event_id=str(summary.status_event_id),
        failed_attempts=summary.failed_attempts,
        sla=_clock(events, policy, as_of),
        later_events=len(records) - len(shown),
    )

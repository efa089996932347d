"""Delivery SLA policy and arithmetic, evaluated in event time at an "as of" instant.

Pure functions: the SQL behind the ``order_sla`` view computes the same figures
(``infra/reporting/order_sla_sql.py``) and the integration tests check one against the other.
Deadlines are computed in UTC (calendar days, weekends and "end of day" are UTC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from domain.events import ShippingTier
from domain.lifecycle import OrderStatus
from domain.order import OrderSummary


class SlaState(StrEnum):
    """Where an order stands against its deadline at the as-of instant."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"  # deadline passed, not delivered, still open
    MET = "met"  # delivered at or before the deadline
    MISSED = "missed"  # delivered after the deadline
    CANCELLED = "cancelled"
    LOST = "lost"  # lost in transit or returned to sender


class AtRiskReason(StrEnum):
    """Why an open order is at risk (the first rule that matched, in this order)."""

    NOT_SHIPPED = "not_shipped"
    DELIVERY_FAILED = "delivery_failed"
    DEADLINE_NEAR = "deadline_near"


#: States whose outcome against the deadline is settled: the on-time rate's denominator.
DECIDED_STATES = frozenset({SlaState.MET, SlaState.MISSED, SlaState.LOST, SlaState.BREACHED})
OPEN_STATES = frozenset({SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED})


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """The promise of one shipping tier and when an open order counts as at risk.

    ``promise_days`` calendar days after creation (Monday-Friday only when
    ``business_days``; a creation at the weekend counts from the Friday before);
    ``end_of_day`` moves the deadline to 23:59:59.999999 UTC of that day.
    At risk: not shipped ``ship_within_hours`` after creation, or a delivery
    failure happened, or less than ``at_risk_remaining_pct`` % of the promise
    window is left and the order is not out for delivery.
    """

    promise_days: int
    business_days: bool = False
    end_of_day: bool = False
    ship_within_hours: int = 48
    at_risk_remaining_pct: int = 25


SlaPolicy = Mapping[ShippingTier, TierPolicy]

#: Seeded into the ``sla_policy`` table by migration 0002 (edit the table to change it).
DEFAULT_POLICY: SlaPolicy = {
    ShippingTier.ECONOMY: TierPolicy(promise_days=7, ship_within_hours=72),
    ShippingTier.STANDARD: TierPolicy(promise_days=5, ship_within_hours=48),
    ShippingTier.EXPRESS: TierPolicy(promise_days=2, ship_within_hours=24),
    ShippingTier.SAME_DAY: TierPolicy(promise_days=0, end_of_day=True, ship_within_hours=6),
}


@dataclass(frozen=True, slots=True)
class SlaInput:
    """What the SLA needs to know about one order (the milestones are first event times)."""

    order_id: str
    created_at: datetime
    shipping_tier: ShippingTier
    promised_delivery_at: datetime | None = None
    shipped_at: datetime | None = None
    out_for_delivery_at: datetime | None = None
    first_failed_at: datetime | None = None
    delivered_at: datetime | None = None
    returned_at: datetime | None = None
    lost_at: datetime | None = None
    cancelled_at: datetime | None = None

    @staticmethod
    def from_summary(summary: OrderSummary) -> SlaInput | None:
        """The input of a folded order; ``None`` while its creation has not arrived."""
        facts = summary.facts
        if facts is None:
            return None
        m = summary.milestones
        return SlaInput(
            order_id=summary.order_id,
            created_at=facts.created_at,
            shipping_tier=facts.shipping_tier,
            promised_delivery_at=facts.promised_delivery_at,
            shipped_at=m.get(OrderStatus.SHIPPED),
            out_for_delivery_at=m.get(OrderStatus.OUT_FOR_DELIVERY),
            first_failed_at=m.get(OrderStatus.DELIVERY_FAILED),
            delivered_at=m.get(OrderStatus.DELIVERED),
            returned_at=m.get(OrderStatus.RETURNED_TO_SENDER),
            lost_at=m.get(OrderStatus.LOST),
            cancelled_at=m.get(OrderStatus.CANCELLED),
        )


@dataclass(frozen=True, slots=True)
class OrderSla:
    """The SLA figures of one order at ``as_of``; durations are ``None`` when not reached."""

    order_id: str
    state: SlaState
    deadline_at: datetime
    deadline_explicit: bool
    time_to_ship: timedelta | None
    time_in_transit: timedelta | None
    lead_time: timedelta | None
    #: delivered (or, while open, as-of) minus deadline; negative = early / time left
    lateness: timedelta | None
    at_risk_reason: AtRiskReason | None

    @property
    def on_time(self) -> bool | None:
        """True for met, False for missed/lost/breached, None when not decided."""
        if self.state not in DECIDED_STATES:
            return None
        return self.state is SlaState.MET


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` moved ``days`` Monday-Friday days forward, keeping the time of day.

    From a Saturday or Sunday the count starts at the Friday before, so one
    business day from the weekend is Monday. ``days`` = 0 returns ``start``.
    """
    if days <= 0:
        return start
    current = start
    while current.weekday() >= 5:  # weekend start: step back to Friday
        current -= timedelta(days=1)
    for _ in range(days):
        current += timedelta(days=1)
        while current.weekday() >= 5:
            current += timedelta(days=1)
    return current


def deadline(order: SlaInput, policy: SlaPolicy) -> datetime:
    """The promised delivery deadline (UTC): explicit promise, else the tier's policy.

    Raises KeyError when the order's tier has no policy and no explicit promise.
    """
    if order.promised_delivery_at is not None:
        return order.promised_delivery_at.astimezone(UTC)
    tier = policy[order.shipping_tier]
    created = order.created_at.astimezone(UTC)
    if tier.business_days:
        due = add_business_days(created, tier.promise_days)
    else:
        due = created + timedelta(days=tier.promise_days)
    if tier.end_of_day:
        due = datetime.combine(due.date(), time.max, tzinfo=UTC)
    return due


def _reached(at: datetime | None, as_of: datetime) -> datetime | None:
    # A milestone later than the as-of instant has not happened yet.
    return at if at is not None and at <= as_of else None


def evaluate(order: SlaInput, policy: SlaPolicy, as_of: datetime) -> OrderSla | None:
    """The order's SLA figures at ``as_of``; ``None`` if created after ``as_of``.

    A terminal milestone decides the state, in the order delivered, cancelled,
    lost/returned (so an illegal "cancelled after delivery" still counts as
    delivered). Raises KeyError as :func:`deadline` does.
    """
    if order.created_at > as_of:
        return None
    due = deadline(order, policy)
    tier = policy.get(order.shipping_tier)
    created = order.created_at
    shipped = _reached(order.shipped_at, as_of)
    delivered = _reached(order.delivered_at, as_of)
    reason: AtRiskReason | None = None
    lateness: timedelta | None = None
    if delivered is not None:
        state = SlaState.MET if delivered <= due else SlaState.MISSED
        lateness = delivered - due
    elif _reached(order.cancelled_at, as_of) is not None:
        state = SlaState.CANCELLED
    elif _reached(order.lost_at, as_of) or _reached(order.returned_at, as_of):
        state = SlaState.LOST
    else:
        lateness = as_of - due
        if as_of > due:
            state = SlaState.BREACHED
        else:
            reason = _at_risk_reason(order, tier, due, as_of)
            state = SlaState.ON_TRACK if reason is None else SlaState.AT_RISK
    return OrderSla(
        order_id=order.order_id,
        state=state,
        deadline_at=due,
        deadline_explicit=order.promised_delivery_at is not None,
        time_to_ship=shipped - created if shipped is not None else None,
        time_in_transit=delivered - shipped if delivered and shipped else None,
        lead_time=delivered - created if delivered is not None else None,
        lateness=lateness,
        at_risk_reason=reason,
    )


def _at_risk_reason(
    order: SlaInput, tier: TierPolicy | None, due: datetime, as_of: datetime
) -> AtRiskReason | None:
    if tier is None:  # explicit promise on a tier without policy: only the failure rule
        return AtRiskReason.DELIVERY_FAILED if _reached(order.first_failed_at, as_of) else None
    shipped = _reached(order.shipped_at, as_of)
    if shipped is None and as_of - order.created_at > timedelta(hours=tier.ship_within_hours):
        return AtRiskReason.NOT_SHIPPED
    if _reached(order.first_failed_at, as_of) is not None:
        return AtRiskReason.DELIVERY_FAILED
    window = due - order.created_at
    left = due - as_of
    out_for_delivery = _reached(order.out_for_delivery_at, as_of)
    if out_for_delivery is None and left * 100 < window * tier.at_risk_remaining_pct:
        return AtRiskReason.DEADLINE_NEAR
    return None


def at_risk_since(
    order: SlaInput, policy: SlaPolicy, reason: AtRiskReason, due: datetime
) -> datetime:
    """The instant from which ``reason`` (as :func:`evaluate` found it) holds: the
    boundary of its rule, a fact of the order, so the same whatever the as-of instant.

    Raises ValueError for a reason the order's facts cannot support.
    """
    tier = policy.get(order.shipping_tier)
    if reason is AtRiskReason.DELIVERY_FAILED and order.first_failed_at is not None:
        return order.first_failed_at
    if tier is not None and reason is AtRiskReason.NOT_SHIPPED:
        return order.created_at + timedelta(hours=tier.ship_within_hours)
    if tier is not None and reason is AtRiskReason.DEADLINE_NEAR:
        # left * 100 < window * pct  <=>  as_of > due - window * pct / 100
        return due - (due - order.created_at) * tier.at_risk_remaining_pct / 100
    raise ValueError(f"order {order.order_id} cannot be at risk for {reason.value}")


def evaluate_all(orders: Iterable[SlaInput], policy: SlaPolicy, as_of: datetime) -> list[OrderSla]:
    """:func:`evaluate` of every order created at or before ``as_of``."""
    results = (evaluate(order, policy, as_of) for order in orders)
    return [r for r in results if r is not None]


def on_time_rate(states: Iterable[SlaState]) -> float | None:
    """met / (met + missed + lost + breached); cancelled and open orders are left out.

    ``None`` when no order is decided yet.
    """
    decided = met = 0
    for state in states:
        if state in DECIDED_STATES:
            decided += 1
            met += state is SlaState.MET
    return met / decided if decided else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolation percentile (PostgreSQL ``percentile_cont``); None if empty.

    Raises ValueError when ``fraction`` is outside [0, 1].
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"percentile fraction {fraction} is outside [0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

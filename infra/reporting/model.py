"""What an SLA report holds, independent of how it is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

Metric = int | float | None

#: An as-of this long after the newest order is probably not what was meant.
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class GroupRow:
    """Aggregates of one group: ``key`` maps each ``--by`` dimension to its value."""

    key: dict[str, str]
    metrics: dict[str, Metric]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Aggregates grouped by ``by`` (one or more of day, carrier, region, tier)."""

    by: tuple[str, ...]
    rows: list[GroupRow]


@dataclass(frozen=True, slots=True)
class AtRiskOrder:
    """An open order that needs attention: at risk or already past its deadline."""

    order_id: str
    sla_state: str
    at_risk_reason: str | None
    shipping_tier: str
    carrier: str
    destination_region: str
    status: str
    created_at: datetime
    deadline_at: datetime
    shipped_at: datetime | None
    lateness_s: float
    #: the tier policy's hours to ship (for the reason text); None without a policy row
    ship_within_hours: int | None = None
    #: delivery failures up to the as-of instant
    failed_attempts: int = 0

    @property
    def reason(self) -> str:
        """Why the order is listed, in words (every listed order has one)."""
        if self.sla_state == "breached":
            return "deadline passed, not delivered"
        if self.at_risk_reason == "not_shipped":
            hours = self.ship_within_hours
            return "not shipped in time" if hours is None else f"not shipped within {hours} h"
        if self.at_risk_reason == "delivery_failed":
            return "a delivery attempt failed"
        if self.at_risk_reason == "deadline_near":
            return "deadline near, not out for delivery"
        return self.at_risk_reason or self.sla_state.replace("_", " ")


@dataclass(frozen=True, slots=True)
class HistogramBucket:
    """Delivered orders whose lead time is in [low_hours, high_hours) (high None = open)."""

    low_hours: int
    high_hours: int | None
    orders: int


@dataclass(frozen=True, slots=True)
class SlaReport:
    """Everything ``sla-pipeline report`` prints, evaluated at ``as_of`` (UTC)."""

    as_of: datetime
    totals: dict[str, Metric]
    breakdowns: list[Breakdown] = field(default_factory=list)
    at_risk_orders: list[AtRiskOrder] = field(default_factory=list)
    #: open orders at risk or breached in all (the list may be cut at a limit)
    at_risk_total: int = 0
    lead_time_histogram: list[HistogramBucket] = field(default_factory=list)
    #: only orders created in [created_since, created_until) are counted (None: open end)
    created_since: datetime | None = None
    created_until: datetime | None = None
    #: when the newest order was placed (None: no order at all)
    newest_order_at: datetime | None = None
    #: the newest event time, set only when ``as_of`` is more than :data:`STALE_AFTER` past it
    stale_since: datetime | None = None
    #: orders placed after ``as_of``: left out of every figure
    orders_after_as_of: int = 0

    @property
    def stale_note(self) -> str | None:
        """One line when ``as_of`` is far beyond the newest event, else None."""
        newest = self.stale_since
        if newest is None:
            return None
        days = (self.as_of - newest) // timedelta(days=1)
        return (
            f"as of {self.as_of:%Y-%m-%d %H:%M} UTC is {days} days after the newest event"
            f" ({newest:%Y-%m-%d %H:%M} UTC), so open orders count as long overdue;"
            f" to judge the data at its own time use e.g. --as-of {newest:%Y-%m-%dT%H:%MZ}"
        )

    @property
    def after_as_of_note(self) -> str | None:
        """One line when orders placed after ``as_of`` were left out, else None."""
        if not self.orders_after_as_of:
            return None
        note = f"{self.orders_after_as_of} orders placed after the as-of time are not counted"
        if self.newest_order_at is not None:
            newest = f"{self.newest_order_at:%Y-%m-%d %H:%M} UTC"
            note += f" (the newest at {newest}; a later --as-of counts them)"
        return note

    def breakdown(self, *by: str) -> Breakdown | None:
        """The breakdown grouped exactly by ``by``, if the report has it."""
        return next((b for b in self.breakdowns if b.by == by), None)

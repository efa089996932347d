"""What an SLA report holds, independent of how it is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Metric = int | float | None


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

    def breakdown(self, *by: str) -> Breakdown | None:
        """The breakdown grouped exactly by ``by``, if the report has it."""
        return next((b for b in self.breakdowns if b.by == by), None)

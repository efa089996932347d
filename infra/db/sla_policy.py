"""The ``sla_policy`` table: the deadline policy per shipping tier, as rows to edit.

The SLA alerts read it (``infra.db.alerts``) and the report's SQL joins it
(``infra.reporting.order_sla_sql``); migration 0002 creates and seeds it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table

from domain.sla import DEFAULT_POLICY, SlaPolicy

#: not the models' metadata: the table is made by its own migration, never by create_all
sla_metadata = MetaData()

#: Deadline policy per shipping tier (see ``domain.sla.TierPolicy``); edit rows to change it.
sla_policy = Table(
    "sla_policy",
    sla_metadata,
    Column("shipping_tier", String(16), primary_key=True),
    Column("promise_days", Integer, nullable=False),
    Column("business_days", Boolean, nullable=False),
    Column("end_of_day", Boolean, nullable=False),
    Column("ship_within_hours", Integer, nullable=False),
    Column("at_risk_remaining_pct", Integer, nullable=False),
)


def policy_rows(policy: SlaPolicy = DEFAULT_POLICY) -> list[dict[str, object]]:
    """``sla_policy`` rows for ``policy``."""
    return [
        {
            "shipping_tier": tier.value,
            "promise_days": rule.promise_days,
            "business_days": rule.business_days,
            "end_of_day": rule.end_of_day,
            "ship_within_hours": rule.ship_within_hours,
            "at_risk_remaining_pct": rule.at_risk_remaining_pct,
        }
        for tier, rule in policy.items()
    ]

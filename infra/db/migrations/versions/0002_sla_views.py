"""SLA: the sla_policy table (seeded) and the order_sla / sla_daily views.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-02 00:00:00

The views are plain views evaluated "as of now" at query time: a materialized
view would freeze the as-of instant at refresh, and the report reads the
per-order query with its own as-of instead. No extra index: the figures read
every created order, so a sequential scan is the plan.
"""

from __future__ import annotations

from alembic import op

from infra.db import sla_views

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

#: Seed rows as of this revision (domain.sla.DEFAULT_POLICY at the time); later changes
#: to the policy are data edits of sla_policy, not new code.
POLICY_ROWS: list[dict[str, object]] = [
    {"shipping_tier": "economy", "promise_days": 7, "business_days": False, "end_of_day": False,
     "ship_within_hours": 72, "at_risk_remaining_pct": 25},
    {"shipping_tier": "standard", "promise_days": 5, "business_days": False, "end_of_day": False,
     "ship_within_hours": 48, "at_risk_remaining_pct": 25},
    {"shipping_tier": "express", "promise_days": 2, "business_days": False, "end_of_day": False,
     "ship_within_hours": 24, "at_risk_remaining_pct": 25},
    {"shipping_tier": "same_day", "promise_days": 0, "business_days": False, "end_of_day": True,
     "ship_within_hours": 6, "at_risk_remaining_pct": 25},
]  # fmt: skip


def upgrade() -> None:
    sla_views.install(op.get_bind(), POLICY_ROWS)


def downgrade() -> None:
    sla_views.uninstall(op.get_bind())

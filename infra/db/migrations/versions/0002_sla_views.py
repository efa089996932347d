"""SLA: the sla_policy table (seeded) and the order_sla / sla_daily views.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-02 00:00:00

The views are plain views evaluated "as of now" at query time: a materialized
view would freeze the as-of instant at refresh, and the report reads the
per-order query with its own as-of instead. No extra index: the figures read
every created order, so a sequential scan is the plan.

The view SQL is frozen in ``0002_sla_views.<dialect>.sql`` beside this file (the
SQL of this revision, whose time conversions 0003 corrects): later changes to the
report's SQL never change what this migration does.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

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


def view_statements(dialect: str) -> list[str]:
    """The frozen ``CREATE VIEW`` statements of this revision for ``dialect``."""
    sql = Path(__file__).with_name(f"0002_sla_views.{dialect}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in body.split("\n;\n") if statement.strip()]


def upgrade() -> None:
    policy = op.create_table(
        "sla_policy",
        sa.Column("shipping_tier", sa.String(16), primary_key=True),
        sa.Column("promise_days", sa.Integer, nullable=False),
        sa.Column("business_days", sa.Boolean, nullable=False),
        sa.Column("end_of_day", sa.Boolean, nullable=False),
        sa.Column("ship_within_hours", sa.Integer, nullable=False),
        sa.Column("at_risk_remaining_pct", sa.Integer, nullable=False),
    )
    op.bulk_insert(policy, POLICY_ROWS)
    for statement in view_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS sla_daily")
    op.execute("DROP VIEW IF EXISTS order_sla")
    op.drop_table("sla_policy")

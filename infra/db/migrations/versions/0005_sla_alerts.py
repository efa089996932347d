"""SLA alerts: the state last announced per order and the outbox of unpublished alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:00:00

``sla_alert_state`` is written in the same transaction as the change that caused an
alert, and ``sla_alert_outbox`` holds that alert until the broker confirmed it, so
an alert is neither lost nor decided twice across a crash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sla_alert_state",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("episode_start"),
        _ts("as_of"),
        _ts("alerted_at"),
        sa.PrimaryKeyConstraint("order_id", name="pk_sla_alert_state"),
    )
    op.create_index("ix_sla_alert_state_state", "sla_alert_state", ["state"])
    op.create_table(
        "sla_alert_outbox",
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _ts("queued_at"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_sla_alert_outbox"),
    )


def downgrade() -> None:
    op.drop_table("sla_alert_outbox")
    op.drop_index("ix_sla_alert_state_state", table_name="sla_alert_state")
    op.drop_table("sla_alert_state")

"""SLA views exact to the microsecond: recreate order_sla and sla_daily.

Revision ID: 0003
Revises: 0002
Create Date: 2024-06-03 00:00:00

The views of 0002 turned stored times into microseconds with an expression that
could be off by a second (SQLite: a fraction of .9995 or more) or by a microsecond
(PostgreSQL: times from 2041). A view keeps the SQL it was created with, so
databases migrated before the fix get the corrected views here. ``sla_policy``
and its rows are left as they are.
"""

from __future__ import annotations

from alembic import op

from infra.db import sla_views

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    sla_views.recreate_views(op.get_bind())


def downgrade() -> None:
    # The inexact SQL is not kept: the views stay exact (0002's downgrade drops them).
    sla_views.recreate_views(op.get_bind())

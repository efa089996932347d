"""SLA views exact to the microsecond: recreate order_sla and sla_daily.

Revision ID: 0003
Revises: 0002
Create Date: 2024-06-03 00:00:00

The views of 0002 turned stored times into microseconds with an expression that
could be off by a second (SQLite: a fraction of .9995 or more) or by a microsecond
(PostgreSQL: times from 2041). A view keeps the SQL it was created with, so
databases migrated before the fix get the corrected views here. ``sla_policy``
and its rows are left as they are. The corrected SQL is frozen in
``0003_exact_sla_times.<dialect>.sql`` beside this file.
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def view_statements(dialect: str) -> list[str]:
    """The frozen ``CREATE VIEW`` statements of this revision for ``dialect``."""
    name = f"0003_exact_sla_times.{dialect}.sql"
    sql = Path(__file__).with_name(name).read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in body.split("\n;\n") if statement.strip()]


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS sla_daily")
    op.execute("DROP VIEW IF EXISTS order_sla")
    for statement in view_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    # The inexact SQL of 0002 is not brought back: the views stay exact (0002's
    # downgrade drops them).
    pass

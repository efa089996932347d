"""SQLite: ``sla_daily`` takes each percentile's count from its counts pass.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:00:04

Each percentile of the view counted its values again over the rows it ranks (a
grouped sort per metric); the counts pass already has them. Same columns, same
figures; the view is recreated from ``0009_sqlite_percentile_counts.sqlite.sql``
beside this file (``order_sla`` is unchanged). PostgreSQL computes percentiles
with ``percentile_cont``: nothing changes there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def _daily_view(name: str) -> str:
    """The ``CREATE VIEW sla_daily`` statement of the frozen view file ``name``."""
    sql = Path(__file__).with_name(name).read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [statement.strip() for statement in body.split("\n;\n")]
    (daily,) = [s for s in statements if s.startswith("CREATE VIEW sla_daily ")]
    return daily


def _recreate(name: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP VIEW IF EXISTS sla_daily")
    op.execute(_daily_view(name))


def upgrade() -> None:
    _recreate("0009_sqlite_percentile_counts.sqlite.sql")


def downgrade() -> None:
    _recreate("0006_sqlite_integer_times.sqlite.sql")

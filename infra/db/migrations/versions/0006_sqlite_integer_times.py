"""SQLite: times as integer microseconds since 1970 UTC; views without text parsing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:00:01

SQLite has no time type: times were ``YYYY-MM-DD HH:MM:SS.ffffff`` text, and every
comparison in the SLA views and the report parsed that text again (strftime and
substr, about 2 us a value). Every time column now holds the exact integer number
of microseconds since 1970 UTC, converted here in place (a column's declared type
has NUMERIC affinity, which keeps integers as they are), and the views are
recreated with integer expressions, frozen in ``0006_sqlite_integer_times.sqlite.sql``
beside this file. PostgreSQL keeps ``timestamptz``: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

#: every time column as of this revision, per table
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales": (
        "created_at", "promised_delivery_at", "status_at", "approved_at", "packed_at",
        "shipped_at", "out_for_delivery_at", "first_failed_at", "delivered_at", "returned_at",
        "lost_at", "cancelled_at", "updated_at",
    ),
    "order_history": ("occurred_at", "ingested_at"),
    "consumer_offsets": ("updated_at",),
    "sla_alert_state": ("episode_start", "as_of", "alerted_at"),
    "sla_alert_outbox": ("queued_at",),
}  # fmt: skip


def _micros(column: str) -> str:
    # whole seconds from the first 19 characters (strftime('%s') of the full text
    # rounds the fraction), the fraction's six digits exactly
    return (
        f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({column} || '000000', 21, 6) AS INTEGER)"
    )


def _text(column: str) -> str:
    return (
        f"datetime({column} / 1000000, 'unixepoch') || '.'"
        f" || substr('000000' || ({column} % 1000000), -6)"
    )


def _view_statements(name: str) -> list[str]:
    sql = Path(__file__).with_name(name).read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in body.split("\n;\n") if statement.strip()]


def _convert(kind: str, convert: Callable[[str], str], views: str) -> None:
    """Rewrite every time value stored as ``kind`` with ``convert``; recreate the views."""
    op.execute("DROP VIEW IF EXISTS sla_daily")
    op.execute("DROP VIEW IF EXISTS order_sla")
    for table, columns in TIME_COLUMNS.items():
        sets = ", ".join(
            f"{c} = CASE WHEN typeof({c}) = '{kind}' THEN {convert(c)} ELSE {c} END"
            for c in columns
        )
        op.execute(f"UPDATE {table} SET {sets}")
    for statement in _view_statements(views):
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _convert("text", _micros, "0006_sqlite_integer_times.sqlite.sql")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _convert("integer", _text, "0003_exact_sla_times.sqlite.sql")

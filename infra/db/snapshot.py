"""The content of the database that the event semantics decide, for comparisons.

Left out: the columns that record when or from where a row was written
(``ingested_at``, ``source_*``, ``updated_at``), which legitimately differ
between two runs over the same events.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, select

from infra.db.models import OrderHistory, Sale

NOT_COMPARED = frozenset(
    {"ingested_at", "source_topic", "source_partition", "source_offset", "updated_at"}
)


def _rows(conn: Connection, table: Table, key: str) -> dict[str, tuple[Any, ...]]:
    columns = [c for c in table.c if c.name not in NOT_COMPARED]
    result = conn.execute(select(*columns))
    return {getattr(row, key): tuple(row) for row in result}


def snapshot(conn: Connection) -> dict[str, dict[str, tuple[Any, ...]]]:
    """``{"sales": {order_id: row}, "order_history": {event_id: row}}``."""
    return {
        "sales": _rows(conn, cast(Table, Sale.__table__), "order_id"),
        "order_history": _rows(conn, cast(Table, OrderHistory.__table__), "event_id"),
    }


def describe_differences(
    left: dict[str, dict[str, tuple[Any, ...]]],
    right: dict[str, dict[str, tuple[Any, ...]]],
    limit: int = 20,
) -> list[str]:
    """Human-readable differences between two snapshots (at most ``limit``)."""
    lines: list[str] = []
    for table in sorted(set(left) | set(right)):
        a, b = left.get(table, {}), right.get(table, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                lines.append(f"{table} {key}: {a.get(key)!r} != {b.get(key)!r}")
                if len(lines) >= limit:
                    return lines
    return lines

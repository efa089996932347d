"""PostgreSQL: binary ``COPY`` of a batch's rows into the session's staging tables.

The merge statements then read the staged rows (``PostgresBackend.insert_rows``).
A staging table is temporary, of this session only, and emptied at every commit.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    Numeric,
    String,
    Table,
    TableClause,
    Text,
    column,
)
from sqlalchemy import table as sql_table

from infra.db.apply_sql import HISTORY, SALES, written_columns
from infra.db.models import UtcDateTime

#: PostgreSQL type name of each column type, for binary ``COPY``
_COPY_TYPES: tuple[tuple[type[Any], str], ...] = (
    (UtcDateTime, "timestamptz"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (Numeric, "numeric"),
    (Text, "text"),
    (String, "varchar"),
)


@cache
def stage(table: Table) -> TableClause:
    """The session's temporary staging table of ``table``'s written columns."""
    return sql_table(f"sla_stage_{table.name}", *[column(c.name) for c in written_columns(table)])


def create_stages_sql() -> str:
    """Create the staging tables of this session if they are missing.

    They are emptied at every commit (and a rollback discards what was copied).
    """
    return "; ".join(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage(t).name} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(c.name for c in written_columns(t))} FROM {t.name} WITH NO DATA"
        for t in (HISTORY, SALES)
    )


@cache
def copy_sql(table: Table) -> str:
    """``COPY`` into the staging table of ``table``, binary format."""
    names = ", ".join(c.name for c in written_columns(table))
    return f"COPY {stage(table).name} ({names}) FROM STDIN (FORMAT BINARY)"


@cache
def copy_types(table: Table) -> tuple[str, ...]:
    """PostgreSQL type names of the staged columns, in :func:`copy_sql` order.

    Raises ``TypeError`` for a column type without a mapping.
    """
    names = []
    for c in written_columns(table):
        name = next((n for kind, n in _COPY_TYPES if isinstance(c.type, kind)), None)
        if name is None:
            raise TypeError(f"no COPY type for {table.name}.{c.name} ({c.type!r})")
        names.append(name)
    return tuple(names)

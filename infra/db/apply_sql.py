"""The set-based statements of the apply path, one construction for both backends.

The merge rules (``ON CONFLICT``, ``CASE`` guards, ``LAG`` legality) are built
once. How rows reach the server differs by dialect: SQLite gets a multi-row
``VALUES`` list; PostgreSQL gets a binary ``COPY`` into a temporary staging
table of the session, and the statement reads from it (short text the server
plans once, and no per-value parameter formatting in Python).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Insert,
    Integer,
    Numeric,
    String,
    Table,
    TableClause,
    Text,
    Update,
    and_,
    bindparam,
    case,
    collate,
    column,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite

from domain.lifecycle import TRANSITIONS
from domain.order import MILESTONE_FIELDS
from infra.db.models import ConsumerOffset, OrderHistory, Sale, UtcDateTime

HISTORY = cast(Table, OrderHistory.__table__)
SALES = cast(Table, Sale.__table__)
OFFSETS = cast(Table, ConsumerOffset.__table__)

#: sales columns holding the first event time of a milestone status
MILESTONE_COLUMNS = tuple(MILESTONE_FIELDS.values())
#: facts written by the earliest order-created of an order
FACT_COLUMNS = (
    "customer_id",
    "customer_name",
    "product_sku",
    "product_name",
    "quantity",
    "unit_price",
    "total_amount",
    "currency",
    "shipping_tier",
    "carrier",
    "destination_region",
    "created_at",
    "created_event_id",
    "promised_delivery_at",
)

#: "previous>next" for every legal move of the lifecycle table
LEGAL_MOVES = sorted(
    f"{src.value}>{dst.value}" for src, dsts in TRANSITIONS.items() for dst in dsts
)


def _insert(dialect: str, table: Any) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database dialect {dialect!r} is not supported")


def insert_or_ignore(dialect: str, table: Any) -> Insert:
    """An INSERT that skips rows whose key is already there (another writer's)."""
    result: Insert = _insert(dialect, table).on_conflict_do_nothing()
    return result


def _columns(table: Table) -> list[Any]:
    # every column but a generated primary key (``order_history.id``)
    return [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]


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
    """PostgreSQL: the session's temporary staging table of ``table``'s columns."""
    return sql_table(f"sla_stage_{table.name}", *[column(c.name) for c in _columns(table)])


def create_stages_sql() -> str:
    """PostgreSQL: create the staging tables of this session if they are missing.

    They are emptied at every commit (and a rollback discards what was copied).
    """
    return "; ".join(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage(t).name} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(c.name for c in _columns(t))} FROM {t.name} WITH NO DATA"
        for t in (HISTORY, SALES)
    )


@cache
def copy_sql(table: Table) -> str:
    """PostgreSQL: ``COPY`` into the staging table of ``table``, binary format."""
    names = ", ".join(c.name for c in _columns(table))
    return f"COPY {stage(table).name} ({names}) FROM STDIN (FORMAT BINARY)"


@cache
def copy_types(table: Table) -> tuple[str, ...]:
    """PostgreSQL type names of the staged columns, in :func:`copy_sql` order.

    Raises ``TypeError`` for a column type without a mapping.
    """
    names = []
    for c in _columns(table):
        name = next((n for kind, n in _COPY_TYPES if isinstance(c.type, kind)), None)
        if name is None:
            raise TypeError(f"no COPY type for {table.name}.{c.name} ({c.type!r})")
        names.append(name)
    return tuple(names)


def copy_columns(table: Table) -> tuple[str, ...]:
    """Names of the columns a row of ``table`` is written with, in :func:`copy_sql` order."""
    return tuple(c.name for c in _columns(table))


def copy_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """``rows`` as tuples in :func:`copy_sql` column order."""
    pick = itemgetter(*copy_columns(table))
    return [pick(row) for row in rows]


def _source(table: Table, dialect: str) -> Any:
    stmt = _insert(dialect, table)
    if dialect == "postgresql":
        # the rows were copied into the staging table in binary (see copy_sql): the
        # driver's per-value Python formatting of parameters is the slow part otherwise
        staged = stage(table)
        stmt = stmt.from_select([c.name for c in _columns(table)], select(*staged.columns))
    return stmt


def binary_text(column: Any, dialect: str) -> Any:
    """Compare ids byte-wise, as Python compares ``str(uuid)`` (PostgreSQL collations may not)."""
    return collate(column, "C") if dialect == "postgresql" else column


@cache
def history_insert(dialect: str) -> Insert:
    """Insert history rows, skipping known event ids; returns the new event ids."""
    stmt = _source(HISTORY, dialect)
    stmt = stmt.on_conflict_do_nothing(index_elements=["event_id"])
    result: Insert = stmt.returning(HISTORY.c.event_id)
    return result


def _earliest(current: Any, incoming: Any) -> ColumnElement[Any]:
    # MIN that ignores NULL on both backends (SQLite's MIN(a, b) returns NULL)
    return case(
        (current.is_(None), incoming),
        (incoming.is_(None), current),
        (incoming < current, incoming),
        else_=current,
    )


@cache
def sales_upsert(dialect: str) -> Insert:
    """Insert new orders or merge a batch summary into an existing row.

    The status moves only forward in ``(status_at, status_rank, status_event_id)``;
    milestones keep the earliest time; counts add up; the earliest creation's
    facts win; the batch's illegal transitions (judged on arrival) are added.
    Returns the row's state after the statement.
    """
    stmt = _source(SALES, dialect)
    new, row = stmt.excluded, SALES.c

    def key(t: Any) -> Any:
        return tuple_(t.status_at, t.status_rank, binary_text(t.status_event_id, dialect))

    newer = key(new) > key(row)
    facts_win = and_(
        new.created_event_id.is_not(None),
        or_(
            row.created_event_id.is_(None),
            tuple_(new.created_at, binary_text(new.created_event_id, dialect))
            < tuple_(row.created_at, binary_text(row.created_event_id, dialect)),
        ),
    )
    values: dict[str, Any] = {
        name: case((newer, new[name]), else_=row[name])
        for name in ("status", "status_rank", "status_at", "status_event_id")
    }
    values.update({name: case((facts_win, new[name]), else_=row[name]) for name in FACT_COLUMNS})
    values.update({name: _earliest(row[name], new[name]) for name in MILESTONE_COLUMNS})
    values["awaiting_creation"] = and_(row.awaiting_creation, new.awaiting_creation)
    values["failed_attempts"] = row.failed_attempts + new.failed_attempts
    values["event_count"] = row.event_count + new.event_count
    values["illegal_transitions"] = row.illegal_transitions + new.illegal_transitions
    values["updated_at"] = new.updated_at
    upsert = stmt.on_conflict_do_update(index_elements=["order_id"], set_=values)
    result: Insert = upsert.returning(
        row.order_id, row.status_event_id, row.awaiting_creation, row.event_count
    )
    return result


@cache
def offsets_claim(dialect: str) -> Insert:
    """Raise a partition's owner epoch (a new row starts at epoch 1, offset 0);
    returns the epoch, the recorded next offset and its topic id."""
    stmt = _insert(dialect, OFFSETS)
    row = OFFSETS.c
    result: Insert = stmt.on_conflict_do_update(
        index_elements=["consumer_group", "topic", "partition"],
        set_={"owner_epoch": row.owner_epoch + 1, "updated_at": stmt.excluded.updated_at},
    ).returning(row.owner_epoch, row.next_offset, row.topic_id)
    return result


def offsets_update_owned() -> Update:
    """Record a partition's next offset only under the owner epoch it was read with."""
    row = OFFSETS.c
    return (
        update(OFFSETS)
        .where(
            row.consumer_group == bindparam("g"),
            row.topic == bindparam("t"),
            row.partition == bindparam("p"),
            row.owner_epoch == bindparam("epoch"),
        )
        .values(
            # an offset recorded for another topic id (a stale record that could not be
            # reset on assignment) is replaced, never kept by "the larger wins"
            next_offset=case(
                (
                    and_(
                        row.topic_id.is_not(None),
                        bindparam("topic_id", type_=String).is_not(None),
                        row.topic_id != bindparam("topic_id", type_=String),
                    ),
                    bindparam("n"),
                ),
                (bindparam("n") > row.next_offset, bindparam("n")),
                else_=row.next_offset,
            ),
            topic_id=func.coalesce(bindparam("topic_id", type_=String), row.topic_id),
            updated_at=bindparam("u"),
        )
    )


def offsets_upsert(dialect: str) -> Insert:
    """Record the next offset per partition; an older offset never overwrites a newer one."""
    stmt = _insert(dialect, OFFSETS)
    new, row = stmt.excluded, OFFSETS.c
    result: Insert = stmt.on_conflict_do_update(
        index_elements=["consumer_group", "topic", "partition"],
        set_={
            "next_offset": case(
                (new.next_offset > row.next_offset, new.next_offset), else_=row.next_offset
            ),
            "updated_at": new.updated_at,
        },
    )
    return result

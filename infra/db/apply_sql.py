"""The set-based statements of the apply path, one construction for both backends.

The merge rules (``ON CONFLICT``, ``CASE`` guards, ``LAG`` legality) are built
once. How rows reach the server differs by dialect: SQLite gets a multi-row
``VALUES`` list; PostgreSQL gets one array parameter per column, spread by
``unnest`` (short statement text the server plans once, instead of megabytes of
``VALUES`` to parse per batch), and re-judges legality and recounts illegal
transitions in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    collate,
    false,
    func,
    null,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from domain.lifecycle import INITIAL_STATUS, TRANSITIONS
from infra.db.models import ConsumerOffset, OrderHistory, Sale, UtcDateTime

HISTORY = cast(Table, OrderHistory.__table__)
SALES = cast(Table, Sale.__table__)
OFFSETS = cast(Table, ConsumerOffset.__table__)

#: sales columns holding the first event time of a milestone status
MILESTONE_COLUMNS = (
    "approved_at",
    "packed_at",
    "shipped_at",
    "out_for_delivery_at",
    "first_failed_at",
    "delivered_at",
    "returned_at",
    "lost_at",
    "cancelled_at",
)
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


def _columns(table: Table) -> list[Any]:
    # every column but a generated primary key (``order_history.id``)
    return [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]


def _unnest(table: Table) -> Select[Any]:
    """``SELECT unnest(:a::T[]) AS a, ...``: one row per array index (arrays of equal length)."""
    items = []
    for c in _columns(table):
        # aware datetimes bind as timestamptz directly (UtcDateTime is only a UTC guard)
        item_type = DateTime(timezone=True) if isinstance(c.type, UtcDateTime) else c.type
        array = bindparam(c.name, type_=postgresql.ARRAY(item_type))
        items.append(func.unnest(array).label(c.name))
    return select(*items)


def bind_rows(dialect: str, table: Table, rows: Sequence[Mapping[str, Any]]) -> Any:
    """Parameters for an insert of ``rows`` built by :func:`history_insert` or
    :func:`sales_upsert`: one list per column on PostgreSQL, the rows elsewhere."""
    if dialect != "postgresql":
        return rows
    return {c.name: [row[c.name] for row in rows] for c in _columns(table)}


@cache
def postgresql_driver_sql(name: str) -> str:
    """``history_insert`` or ``sales_upsert`` on PostgreSQL as driver SQL whose arrays bind
    in binary (``%(col)b``).

    psycopg would send an array of text in text format, quoting every element in
    Python; in binary each element is copied as is, many times faster. Raises
    ``KeyError`` for another name.
    """
    statement, table = {"history": (history_insert, HISTORY), "sales": (sales_upsert, SALES)}[name]
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    compiled = statement("postgresql").compile(dialect=dialect)
    names = {c.name for c in _columns(table)}
    if set(compiled.params) != names:  # any other bound value would be lost here
        raise RuntimeError(f"unexpected parameters {set(compiled.params) ^ names}")
    sql = str(compiled)
    for column in names:
        sql = sql.replace(f"%({column})s", f"%({column})b")
    return sql


def binary_text(column: Any, dialect: str) -> Any:
    """Compare ids byte-wise, as Python compares ``str(uuid)`` (PostgreSQL collations may not)."""
    return collate(column, "C") if dialect == "postgresql" else column


@cache
def history_insert(dialect: str) -> Insert:
    """Insert history rows, skipping known event ids; returns the new event ids."""
    stmt = _insert(dialect, HISTORY)
    if dialect == "postgresql":
        stmt = stmt.from_select([c.name for c in _columns(HISTORY)], _unnest(HISTORY))
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
    facts win. Returns the row's state after the statement.
    """
    stmt = _insert(dialect, SALES)
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
    values["updated_at"] = new.updated_at
    if dialect == "postgresql":
        stmt = stmt.from_select([c.name for c in _columns(SALES)], _unnest(SALES))
    upsert = stmt.on_conflict_do_update(index_elements=["order_id"], set_=values)
    result: Insert = upsert.returning(row.order_id, row.status_event_id, row.awaiting_creation)
    return result


def legality(previous: Any, status: Any) -> ColumnElement[Any]:
    """SQL form of ``domain.order.judge_transitions`` for one event and its predecessor."""
    return case(
        (previous.is_(None), case((status == INITIAL_STATUS.value, true()), else_=null())),
        (previous.concat(">").concat(status).in_(LEGAL_MOVES), true()),
        else_=false(),
    )


@cache
def rejudge_history(dialect: str) -> Update:
    """Recompute ``legal`` for the history of ``:order_ids`` where it changed.

    Returns ``order_id`` and the new ``legal`` of every row it changed.
    """
    h = HISTORY.c
    previous = func.lag(h.status).over(
        partition_by=h.order_id,
        order_by=(h.occurred_at, h.status_rank, binary_text(h.event_id, dialect)),
    )
    ordered = (
        select(h.id, h.status, h.legal, previous.label("previous"))
        .where(h.order_id.in_(bindparam("order_ids", expanding=True)))
        .subquery("ordered")
    )
    judged = select(
        ordered.c.id, ordered.c.legal, legality(ordered.c.previous, ordered.c.status).label("v")
    ).subquery("judged")
    result: Update = (
        update(HISTORY)
        .where(h.id == judged.c.id, judged.c.v.is_distinct_from(judged.c.legal))
        .values(legal=judged.c.v)
        .returning(h.order_id, h.legal)
    )
    return result


@cache
def recount_illegal(dialect: str) -> Update:
    """Set ``sales.illegal_transitions`` of ``:order_ids`` from their history."""
    count = (
        select(func.count())
        .select_from(HISTORY)
        .where(HISTORY.c.order_id == SALES.c.order_id, HISTORY.c.legal == false())
        .scalar_subquery()
    )
    result: Update = (
        update(SALES)
        .where(SALES.c.order_id.in_(bindparam("order_ids", expanding=True)))
        .values(illegal_transitions=count)
    )
    return result


@cache
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


#: PostgreSQL: re-judge the history of ``:order_ids`` and recount their
#: ``illegal_transitions`` in one round trip. The count is taken from the judged
#: verdicts (a sibling CTE cannot see the history UPDATE), which cover every
#: history row of those orders. Returns how many rows became illegal.
REJUDGE_POSTGRESQL = """
WITH ordered AS (
    SELECT h.id, h.order_id, h.status, h.legal,
           lag(h.status) OVER (
               PARTITION BY h.order_id
               ORDER BY h.occurred_at, h.status_rank, h.event_id COLLATE "C"
           ) AS previous
    FROM order_history AS h
    WHERE h.order_id = ANY(CAST(%(order_ids)b AS VARCHAR[]))
), judged AS (
    SELECT id, order_id, legal, CASE
        WHEN previous IS NULL THEN CASE WHEN status = %(initial)s THEN true END
        WHEN previous || '>' || status = ANY(CAST(%(legal_moves)s AS VARCHAR[])) THEN true
        ELSE false
    END AS v
    FROM ordered
), changed AS (
    UPDATE order_history AS h SET legal = j.v
    FROM judged AS j
    WHERE h.id = j.id AND j.v IS DISTINCT FROM j.legal
    RETURNING h.legal
), recounted AS (
    UPDATE sales AS s SET illegal_transitions = c.n
    FROM (
        SELECT order_id, count(*) FILTER (WHERE v = false) AS n FROM judged GROUP BY order_id
    ) AS c
    WHERE s.order_id = c.order_id AND s.illegal_transitions <> c.n
)
SELECT count(*) FROM changed WHERE legal = false
"""


def rejudge_parameters(order_ids: Sequence[str]) -> dict[str, Any]:
    """Parameters of the driver SQL ``REJUDGE_POSTGRESQL``."""
    return {"order_ids": order_ids, "initial": INITIAL_STATUS.value, "legal_moves": LEGAL_MOVES}

"""The set-based statements of the apply path, each built once for every backend.

The merge rules (``ON CONFLICT``, ``CASE`` guards, the precedence and earliest-time
comparisons) are SQLAlchemy expressions written here once; a
:class:`~infra.db.backend.SqlBackend` supplies what differs: the ``INSERT`` of the
database, byte-wise text comparison, and where a batch's rows come from (a
``VALUES`` list, or the staging table a binary ``COPY`` filled). Legality and
re-judging are in :mod:`infra.db.judge_sql`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    func,
    or_,
    tuple_,
    update,
)

from domain.order import MILESTONE_FIELDS
from infra.db.models import ConsumerOffset, OrderHistory, Sale

if TYPE_CHECKING:
    from infra.db.backend import SqlBackend

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


def insert_or_ignore(backend: SqlBackend, table: Table) -> Insert:
    """An INSERT that skips rows whose key is already there (another writer's)."""
    result: Insert = backend.insert(table).on_conflict_do_nothing()
    return result


def written_columns(table: Table) -> list[Any]:
    """The columns a row of ``table`` is written with: all but a generated primary key
    (none of the apply path's tables has one)."""
    return [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]


@cache
def row_columns(table: Table) -> tuple[str, ...]:
    """Names of :func:`written_columns`, the order of a row's values on every transport."""
    return tuple(c.name for c in written_columns(table))


def row_values(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """``rows`` as tuples in :func:`row_columns` order."""
    pick = itemgetter(*row_columns(table))
    return [pick(row) for row in rows]


@cache
def history_insert(backend: SqlBackend) -> Insert:
    """Insert history rows, skipping known event ids; returns the new event ids."""
    stmt = backend.insert_rows(HISTORY)
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
def sales_upsert(backend: SqlBackend) -> Insert:
    """Insert new orders or merge a batch summary into an existing row.

    The status moves only forward in ``(status_at, status_rank, status_event_id)``;
    milestones keep the earliest time; counts add up; the earliest creation's
    facts win; the batch's illegal transitions (judged on arrival) are added.
    Returns the row's state after the statement.
    """
    stmt = backend.insert_rows(SALES)
    new, row = stmt.excluded, SALES.c

    def key(t: Any) -> Any:
        return tuple_(t.status_at, t.status_rank, backend.binary_text(t.status_event_id))

    newer = key(new) > key(row)
    facts_win = and_(
        new.created_event_id.is_not(None),
        or_(
            row.created_event_id.is_(None),
            tuple_(new.created_at, backend.binary_text(new.created_event_id))
            < tuple_(row.created_at, backend.binary_text(row.created_event_id)),
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
def offsets_claim(backend: SqlBackend) -> Insert:
    """Raise a partition's owner epoch (a new row starts at epoch 1, offset 0);
    returns the epoch, the recorded next offset and its topic id."""
    stmt = backend.insert(OFFSETS)
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


@cache
def offsets_upsert(backend: SqlBackend) -> Insert:
    """Record the next offset per partition; an older offset never overwrites a newer one."""
    stmt = backend.insert(OFFSETS)
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

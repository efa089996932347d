"""Legality in SQL: read an order's head before a batch, and re-judge whole histories.

The apply path judges most events on arrival (``consumer.apply.judge_arrivals``)
from the head read here. Orders where a new event lands before a stored one are
re-judged with ``LAG`` over ``(occurred_at, status_rank, event_id)``. The rule
(:func:`legality` over :func:`_judged`) is built once; it is composed into one
statement that also recounts ``sales.illegal_transitions`` where the database has
data-modifying CTEs (:func:`rejudge_and_recount`), else into an update of the
changed flags (:func:`rejudge_history`) followed by :func:`recount_illegal`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Update,
    any_,
    bindparam,
    case,
    cast,
    false,
    func,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from domain.lifecycle import INITIAL_STATUS, TRANSITIONS
from infra.db.apply_sql import HISTORY, SALES

if TYPE_CHECKING:
    from infra.db.backend import SqlBackend

#: "previous>next" for every legal move of the lifecycle table
LEGAL_MOVES = sorted(
    f"{src.value}>{dst.value}" for src, dsts in TRANSITIONS.items() for dst in dsts
)


#: the ``sales`` columns of an order's head, in the order :func:`heads` selects them
HEAD_COLUMNS = (
    "order_id",
    "status",
    "status_at",
    "status_rank",
    "status_event_id",
    "event_count",
)


@cache
def heads(backend: SqlBackend) -> Select[Any]:
    """The head columns of the ``sales`` rows of the ids in parameter ``order_ids``."""
    s = SALES.c
    return select(*(s[name] for name in HEAD_COLUMNS)).where(backend.among(s.order_id, "order_ids"))


def legality(previous: Any, status: Any) -> ColumnElement[Any]:
    """SQL form of ``domain.order.judge_transitions`` for one event and its predecessor."""
    return case(
        (previous.is_(None), case((status == INITIAL_STATUS.value, true()), else_=null())),
        (previous.concat(">").concat(status).in_(LEGAL_MOVES), true()),
        else_=false(),
    )


def _judged(backend: SqlBackend) -> Select[Any]:
    """Every history row of the orders in ``order_ids``: its id, order, stored ``legal``
    and the verdict ``v`` its predecessor in precedence order implies."""
    h = HISTORY.c
    previous = func.lag(h.status).over(
        partition_by=h.order_id,
        order_by=(h.occurred_at, h.status_rank, backend.binary_text(h.event_id)),
    )
    ordered = (
        select(h.event_id, h.order_id, h.status, h.legal, previous.label("previous"))
        .where(backend.among(h.order_id, "order_ids"))
        .subquery("ordered")
    )
    o = ordered.c
    return select(o.event_id, o.order_id, o.legal, legality(o.previous, o.status).label("v"))


def _set_changed(judged: Any) -> Update:
    """Write the verdicts of ``judged`` that differ from the stored ones."""
    h = HISTORY.c
    return (
        update(HISTORY)
        .where(h.event_id == judged.c.event_id, judged.c.v.is_distinct_from(judged.c.legal))
        .values(legal=judged.c.v)
    )


@cache
def rejudge_history(backend: SqlBackend) -> Update:
    """Recompute ``legal`` for the history of ``order_ids`` where it changed.

    Returns ``order_id`` and the new ``legal`` of every row it changed.
    """
    result: Update = _set_changed(_judged(backend).subquery("judged")).returning(
        HISTORY.c.order_id, HISTORY.c.legal
    )
    return result


@cache
def recount_illegal(backend: SqlBackend) -> Update:
    """Set ``sales.illegal_transitions`` of ``order_ids`` from their history."""
    count = (
        select(func.count())
        .select_from(HISTORY)
        .where(HISTORY.c.order_id == SALES.c.order_id, HISTORY.c.legal == false())
        .scalar_subquery()
    )
    result: Update = (
        update(SALES)
        .where(backend.among(SALES.c.order_id, "order_ids"))
        .values(illegal_transitions=count)
    )
    return result


#: a parameter or result that is a list of ids (PostgreSQL)
ID_ARRAY = postgresql.ARRAY(String)


def opaque(array: Select[Any]) -> Any:
    """The array ``array`` selects, computed once before the statement (an init plan).

    The planner cannot see into it and takes it for a few elements, so
    ``key = ANY(...)`` on a unique key is an index lookup whatever its statistics
    say; given a constant array or a subquery (planned as a join) it may prefer to
    scan the whole table."""
    return cast(array.scalar_subquery(), ID_ARRAY)


def _judged_by_order(backend: SqlBackend) -> Select[Any]:
    """:func:`_judged` (with ``event_id`` for ``id``), read one order at a time: a
    lateral lookup by ``order_id`` per id of ``order_ids``, which the planner answers
    from the history index whatever its statistics say (an ``order_id = ANY(...)``
    over the table is a full scan to it while the table has none)."""
    h = HISTORY.c
    ids = func.unnest(cast(bindparam("order_ids"), ID_ARRAY))
    o = ids.table_valued("order_id").render_derived(name="o")
    previous = func.lag(h.status).over(
        order_by=(h.occurred_at, h.status_rank, backend.binary_text(h.event_id))
    )
    ordered = (
        select(h.event_id, h.status, h.legal, previous.label("previous"))
        .where(h.order_id == o.c.order_id)
        .lateral("ordered")
    )
    r = ordered.c
    return select(
        o.c.order_id, r.event_id, r.legal, legality(r.previous, r.status).label("v")
    ).select_from(o.join(ordered, true()))


@cache
def rejudge_and_recount(backend: SqlBackend) -> Select[Any]:
    """Re-judge the history of ``order_ids`` and recount their ``illegal_transitions``
    in one round trip (data-modifying CTEs). Returns how many rows became illegal.

    The count is taken from the judged verdicts (a sibling CTE cannot see the history
    update), which cover every history row of those orders. Every table is reached
    by a unique or leading index key: the history rows to change by
    ``event_id = ANY(<the changed ids>)``, an array the planner takes for a few
    elements, and the ``sales`` rows by ``order_id = ANY(order_ids)``.
    """
    judged = _judged_by_order(backend).cte("judged")
    j, h, s = judged.c, HISTORY.c, SALES.c
    differs = j.v.is_distinct_from(j.legal)
    changed_ids = opaque(select(func.array_agg(j.event_id)).where(differs))
    changed = (
        update(HISTORY)
        .where(h.event_id == any_(changed_ids), h.event_id == j.event_id, differs)
        .values(legal=j.v)
        .returning(h.legal)
        .cte("changed")
    )
    counts = (
        select(j.order_id, func.count().filter(j.v == false()).label("n"))
        .group_by(j.order_id)
        .subquery("c")
    )
    recounted = (
        update(SALES)
        .where(
            backend.among(s.order_id, "order_ids"),
            s.order_id == counts.c.order_id,
            s.illegal_transitions != counts.c.n,
        )
        .values(illegal_transitions=counts.c.n)
        .cte("recounted")
    )
    result: Select[Any] = (
        select(func.count())
        .select_from(changed)
        .where(changed.c.legal == false())
        .add_cte(recounted)
    )
    return result

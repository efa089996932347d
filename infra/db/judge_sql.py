"""Legality in SQL: read an order's head before a batch, and re-judge whole histories.

The apply path judges most events on arrival (``consumer.apply.judge_arrivals``)
from the head read here. Orders where a new event lands before a stored one are
re-judged with ``LAG`` over ``(occurred_at, status_rank, event_id)``: on
PostgreSQL in one statement that also recounts ``sales.illegal_transitions``,
elsewhere as an update of the changed flags followed by a recount.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    bindparam,
    case,
    false,
    func,
    null,
    select,
    true,
    update,
)

from domain.lifecycle import INITIAL_STATUS
from infra.db.apply_sql import HISTORY, LEGAL_MOVES, SALES, binary_text

#: PostgreSQL: the heads of ``:order_ids`` (one array parameter, any number of ids)
HEADS_POSTGRESQL = """
SELECT order_id, status, status_at, status_rank, status_event_id, event_count
FROM sales WHERE order_id = ANY(CAST(%(order_ids)b AS VARCHAR[]))
"""


@cache
def heads(dialect: str) -> Select[Any]:
    """The head columns of the ``sales`` rows of ``:order_ids`` (an expanding IN list)."""
    s = SALES.c
    return select(
        s.order_id, s.status, s.status_at, s.status_rank, s.status_event_id, s.event_count
    ).where(s.order_id.in_(bindparam("order_ids", expanding=True)))


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

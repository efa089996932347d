"""Event-sourcing check: ``sales`` recomputed from ``order_history`` alone.

Orders are read in pages (keyset on ``order_id``), each page's payloads are
decoded, folded with ``domain.order.fold`` and judged with
``domain.order.judge_transitions`` -- an implementation independent of the SQL
apply path, so ``verify`` really checks it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from domain.codec import decode_event
from domain.events import Event
from domain.order import fold, judge_transitions
from infra.db.apply_sql import HISTORY, SALES
from infra.db.errors import database_errors
from infra.db.repository import sales_row

PAGE_ORDERS = 2000
#: columns that record when a row was written, not what it says
IGNORED_COLUMNS = frozenset({"updated_at"})


@dataclass(frozen=True, slots=True)
class RebuiltPage:
    """One page of orders as history implies them."""

    order_ids: list[str]
    sales: dict[str, dict[str, Any]]
    #: (event_id, current legal, legal implied by history)
    legality: list[tuple[str, bool | None, bool | None]]


@dataclass(slots=True)
class Differences:
    """What differs between the live tables and a rebuild (empty = identical)."""

    lines: list[str] = field(default_factory=list)
    orders_checked: int = 0
    limit: int = 50
    count: int = 0

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.lines) < self.limit:
            self.lines.append(line)


def iter_rebuilt(conn: Connection, page_orders: int = PAGE_ORDERS) -> Iterator[RebuiltPage]:
    """Pages of rebuilt rows, in ``order_id`` order.

    Raises ``EventDecodeError`` if a stored payload is not a valid event (a
    corrupted history: it cannot be rebuilt).
    """
    now = datetime.now(UTC)
    last: str | None = None
    while True:
        query = (
            select(HISTORY.c.order_id).distinct().order_by(HISTORY.c.order_id).limit(page_orders)
        )
        if last is not None:
            query = query.where(HISTORY.c.order_id > last)
        order_ids = list(conn.execute(query).scalars())
        if not order_ids:
            return
        last = order_ids[-1]
        rows = conn.execute(
            select(
                HISTORY.c.order_id, HISTORY.c.event_id, HISTORY.c.legal, HISTORY.c.payload
            ).where(HISTORY.c.order_id.in_(order_ids))
        ).all()
        events: dict[str, list[Event]] = defaultdict(list)
        current: dict[str, bool | None] = {}
        for order_id, event_id, legal, payload in rows:
            events[order_id].append(decode_event(payload.encode("utf-8")))
            current[event_id] = legal
        summaries = fold(e for order_events in events.values() for e in order_events)
        sales: dict[str, dict[str, Any]] = {}
        legality: list[tuple[str, bool | None, bool | None]] = []
        for order_id, summary in summaries.items():
            verdicts = judge_transitions(events[order_id])
            row = sales_row(summary, now)
            row["illegal_transitions"] = sum(1 for v in verdicts.values() if v is False)
            sales[order_id] = row
            legality.extend((str(k), current[str(k)], v) for k, v in verdicts.items())
        yield RebuiltPage(order_ids, sales, legality)


def rebuild_sales(engine: Engine) -> int:
    """Replace ``sales`` and ``order_history.legal`` by what history implies, in one
    transaction (rolled back on any failure). Returns the number of orders."""
    orders = 0
    with database_errors(), engine.begin() as conn:
        # read everything first, so the rebuilt rows never see a half-written table
        pages = list(iter_rebuilt(conn))
        conn.execute(delete(SALES))
        for page in pages:
            conn.execute(insert(SALES), list(page.sales.values()))
            changed = [
                {"eid": event_id, "legal": implied}
                for event_id, live, implied in page.legality
                if live != implied
            ]
            if changed:
                conn.execute(
                    update(HISTORY)
                    .where(HISTORY.c.event_id == bindparam("eid"))
                    .values(legal=bindparam("legal")),
                    changed,
                )
            orders += len(page.order_ids)
    return orders


def verify(engine: Engine, limit: int = 50) -> Differences:
    """Compare a rebuild (in memory, page by page) with the live tables."""
    found = Differences(limit=limit)
    with database_errors(), engine.connect() as conn:
        seen = 0
        for page in iter_rebuilt(conn):
            live = {
                row["order_id"]: dict(row)
                for row in conn.execute(select(SALES).where(SALES.c.order_id.in_(page.order_ids)))
                .mappings()
                .all()
            }
            for order_id, expected in page.sales.items():
                _compare_order(order_id, expected, live.get(order_id), found)
            for event_id, live_legal, implied in page.legality:
                if live_legal != implied:
                    found.add(f"order_history {event_id}: legal {live_legal}, implied {implied}")
            seen += len(page.order_ids)
        total = conn.execute(select(func.count()).select_from(SALES)).scalar_one()
        if total != seen:
            found.add(f"sales has {total} rows but history covers {seen} orders")
        found.orders_checked = seen
    return found


def _compare_order(
    order_id: str, expected: dict[str, Any], live: dict[str, Any] | None, found: Differences
) -> None:
    if live is None:
        found.add(f"sales {order_id}: missing (history has {expected['event_count']} events)")
        return
    for column, value in expected.items():
        if column in IGNORED_COLUMNS:
            continue
        if not same_value(value, live[column]):
            found.add(f"sales {order_id}.{column}: live {live[column]!r}, rebuilt {value!r}")


def same_value(a: Any, b: Any) -> bool:
    """Equality that treats datetimes by instant and numbers by value."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) if a is not None and b is not None else a is b
    return bool(a == b)

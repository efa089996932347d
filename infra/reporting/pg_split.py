"""PostgreSQL: a report's aggregates on two connections at once, over one snapshot.

The percentiles are sorts, and one PostgreSQL backend sorts on one core. The
report's own connection exports its snapshot (``pg_export_snapshot``); a second
connection imports it (``SET TRANSACTION SNAPSHOT``), so both read exactly the
same data, and computes part of the aggregates meanwhile. Errors of either
connection surface as SQLAlchemy errors from :meth:`Beside.submit`'s future.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, text

from infra.reporting.aggregate_sql import (
    DIMENSIONS,
    METRIC_COLUMNS,
    grouping_id,
    grouping_sets_select,
)
from infra.reporting.model import GroupRow, Metric

T = TypeVar("T")

#: Memory per sort of a report: a million narrow rows sort in memory, not on disk.
WORK_MEM = "256MB"


def tune(conn: Connection) -> None:
    """Settings for the current transaction of a report connection (PostgreSQL)."""
    # JIT compiling the wide CASE expressions costs far more than it saves.
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


class Beside:
    """Runs work on a second connection that sees the snapshot of ``conn``.

    ``conn`` must be at the start of a REPEATABLE READ transaction, which must stay
    open until the futures are done (leaving the ``with`` block waits for them).
    """

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        tune(conn)
        self._snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sla-report")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True)

    def submit(self, work: Callable[[Connection], T]) -> Future[T]:
        """``work(connection)`` on the second connection, in a read-only transaction."""
        return self._pool.submit(self._run, work)

    def _run(self, work: Callable[[Connection], T]) -> T:
        options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
        with self._engine.connect().execution_options(**options) as conn, conn.begin():
            # Must come first in the transaction: every later statement reads this snapshot.
            conn.execute(text(f"SET TRANSACTION SNAPSHOT '{self._snapshot}'"))
            conn.execute(text("SET TRANSACTION READ ONLY"))
            tune(conn)
            return work(conn)


def metrics_of(row: Any) -> dict[str, Metric]:
    """The aggregate columns of a result row as Python numbers (counts as int)."""
    values = row._mapping
    result: dict[str, Metric] = {}
    for column in METRIC_COLUMNS:
        value = values[column]
        if column.endswith("_s") or column == "on_time_rate":
            result[column] = None if value is None else float(value)
        else:  # a count; SUM over no rows is NULL
            result[column] = int(value or 0)
    return result


def group_row(row: Any, by: Sequence[str]) -> GroupRow:
    """An aggregate row of breakdown ``by``: its key as text (a PostgreSQL DATE prints as
    YYYY-MM-DD, as SQLite stores it) and its metrics."""
    return GroupRow(key={name: str(row._mapping[name]) for name in by}, metrics=metrics_of(row))


def aggregate_sets(
    conn: Connection,
    breakdowns: Sequence[tuple[str, ...]],
    source: str,
    with_totals: bool,
    params: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Metric] | None, dict[tuple[str, ...], list[GroupRow]]]:
    """PostgreSQL: the breakdowns (and the totals) of ``source``'s rows, by GROUPING SETS.

    Breakdowns naming the same dimensions in another order (``day,tier`` and
    ``tier,day``) are one grouping set, so each such repeat takes a query of its own.
    """
    grouped: dict[tuple[str, ...], list[GroupRow]] = {}
    totals: dict[str, Metric] | None = None
    pending = list(breakdowns)
    while pending or (with_totals and totals is None):
        batch: list[tuple[str, ...]] = []
        for by in pending:
            if all(set(by) != set(other) for other in batch):
                batch.append(by)
        pending = [by for by in pending if by not in batch]
        used = [name for name in DIMENSIONS if any(name in by for by in batch)]
        by_id = {grouping_id(used, by): by for by in batch}
        rows: dict[tuple[str, ...], list[GroupRow]] = {by: [] for by in batch}
        query = grouping_sets_select(batch, source, totals=with_totals and totals is None)
        for row in conn.execute(text(query), dict(params or {})):
            found = by_id.get(row.grouping_id)
            if found is None:  # the totals
                totals = metrics_of(row)
            else:
                rows[found].append(group_row(row, found))
        grouped.update(rows)
    return totals, grouped

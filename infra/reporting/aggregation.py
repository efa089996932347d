"""Run a report's aggregates on one connection: totals and breakdowns as result rows.

Where the database has GROUPING SETS (``SqlBackend.grouping_sets``), every
breakdown of distinct dimensions is computed in one pass; elsewhere (SQLite) each
breakdown is one counts query, with the percentiles ranked here
(``client_percentiles``). Both give the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from infra.db.backend import SqlBackend
from infra.reporting.aggregate_sql import (
    DIMENSIONS,
    METRIC_COLUMNS,
    grouping_id,
    grouping_sets_select,
)
from infra.reporting.client_percentiles import aggregate_rows
from infra.reporting.model import GroupRow, Metric

Totals = dict[str, Metric]
Grouped = dict[tuple[str, ...], list[GroupRow]]


def aggregate(
    backend: SqlBackend,
    conn: Connection,
    breakdowns: Sequence[tuple[str, ...]],
    source: str,
    with_totals: bool,
    params: Mapping[str, Any] | None = None,
) -> tuple[Totals | None, Grouped]:
    """The ``breakdowns`` (and the totals if ``with_totals``, else None) of the rows of
    ``source`` (a SELECT of the per-order columns the aggregates read; without GROUPING
    SETS it is read once per breakdown and once more per duration)."""
    if backend.grouping_sets:
        return _by_grouping_sets(conn, breakdowns, source, with_totals, params)
    # one aggregate query per breakdown, the percentiles ranked here (SQLite)
    driver = conn.connection.driver_connection
    bound = dict(params or {})
    totals = None
    if with_totals:
        (row,) = aggregate_rows(driver, (), source, bound)
        totals = metrics_of(row)
    grouped = {
        by: [group_row(row, by) for row in aggregate_rows(driver, by, source, bound)]
        for by in breakdowns
    }
    return totals, grouped


def metrics_of(values: Mapping[Any, Any]) -> dict[str, Metric]:
    """The aggregate columns of a row (by column name) as Python numbers (counts as int)."""
    result: dict[str, Metric] = {}
    for column in METRIC_COLUMNS:
        value = values[column]
        if column.endswith("_s") or column == "on_time_rate":
            result[column] = None if value is None else float(value)
        else:  # a count; SUM over no rows is NULL
            result[column] = int(value or 0)
    return result


def group_row(values: Mapping[Any, Any], by: Sequence[str]) -> GroupRow:
    """An aggregate row of breakdown ``by`` (by column name): its key as text (a
    PostgreSQL DATE prints as YYYY-MM-DD, as SQLite stores it) and its metrics."""
    return GroupRow(key={name: str(values[name]) for name in by}, metrics=metrics_of(values))


def _by_grouping_sets(
    conn: Connection,
    breakdowns: Sequence[tuple[str, ...]],
    source: str,
    with_totals: bool,
    params: Mapping[str, Any] | None = None,
) -> tuple[Totals | None, Grouped]:
    """The breakdowns (and the totals) of ``source``'s rows, by GROUPING SETS.

    Breakdowns naming the same dimensions in another order (``day,tier`` and
    ``tier,day``) are one grouping set, so each such repeat takes a query of its own.
    """
    grouped: Grouped = {}
    totals: Totals | None = None
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
                totals = metrics_of(row._mapping)
            else:
                rows[found].append(group_row(row._mapping, found))
        grouped.update(rows)
    return totals, grouped

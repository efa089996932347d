"""The aggregates of one breakdown with the percentiles computed here, from values
read in one pass per duration: for SQLite, whose window functions rank a million
values in twice the time it takes to read them here and sort them.

Each percentile is :func:`percentile_cont`, PostgreSQL's linear interpolation
between closest ranks in the same floating-point operations, so both backends
report the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.reporting.aggregate_sql import DIMENSIONS, DURATIONS, PERCENTILES, counts_select


def percentile_cont(ordered: Sequence[Any], fraction: float) -> Any:
    """The ``fraction`` percentile of ``ordered`` (ascending numbers) as ``percentile_cont``
    computes it; ``None`` when there are none."""
    n = len(ordered)
    if not n:
        return None
    position = fraction * (n - 1)
    lo = int(position)  # the position is not negative: truncation is its floor
    hi = lo + 1 if position > lo else lo
    low = ordered[lo]
    return low + (ordered[hi] - low) * (position - lo)


def aggregate_rows(
    driver: Any, dimensions: Sequence[str], source: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The aggregate rows of ``source`` (a SELECT of the per-order columns) by
    ``dimensions``, ordered by them, as column name -> value: the counts by one query,
    each duration's values by another. ``driver`` is the DBAPI connection (the rows
    are read as the driver gives them: a result object per value costs more than the
    ranking saved)."""
    keys = [DIMENSIONS[name] for name in dimensions]
    cursor = driver.execute(counts_select(dimensions, source), dict(params))
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for metric in DURATIONS:
        values: dict[tuple[Any, ...], list[Any]] = {}
        column = f"{metric}_s"
        query = (
            f"SELECT {', '.join([*keys, column])} FROM ({source}) AS o WHERE {column} IS NOT NULL"
        )
        width = len(keys)
        for found in driver.execute(query, dict(params)):
            key = found[:width]
            group = values.get(key)
            if group is None:
                values[key] = [found[width]]
            else:
                group.append(found[width])
        for ordered in values.values():
            ordered.sort()
        for row in rows:
            ordered = values.get(tuple(row[name] for name in dimensions), [])
            for label, fraction in PERCENTILES:
                row[f"{metric}_{label}_s"] = percentile_cont(ordered, fraction)
    return rows

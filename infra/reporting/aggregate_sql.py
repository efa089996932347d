"""SQL of the SLA aggregates over per-order rows (the ``order_sla`` columns).

Percentiles are linear interpolation between closest ranks, as PostgreSQL's
``percentile_cont``: on PostgreSQL that function, on SQLite the same formula
written with ``ROW_NUMBER``/``COUNT`` windows, in the same floating-point
operations, so both backends return the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.db.sla_views import Dialect

#: ``--by`` name -> column of the per-order rows.
DIMENSIONS: dict[str, str] = {
    "day": "created_day",
    "carrier": "carrier",
    "region": "destination_region",
    "tier": "shipping_tier",
}

STATES = ("on_track", "at_risk", "breached", "met", "missed", "cancelled", "lost")
DURATIONS = ("lead_time", "time_to_ship", "time_in_transit")
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))

#: Columns of every aggregate row after the dimension columns, in this order.
METRIC_COLUMNS: tuple[str, ...] = (
    "orders",
    *STATES,
    "decided",
    "on_time_rate",
    *(f"{m}_{p}_s" for m in DURATIONS for p, _ in PERCENTILES),
)


def _counts() -> list[str]:
    columns = ["COUNT(*) AS orders"]
    columns += [f"SUM(CASE WHEN sla_state = '{s}' THEN 1 ELSE 0 END) AS {s}" for s in STATES]
    columns.append("COUNT(on_time) AS decided")
    columns.append(
        "CAST(SUM(on_time) AS DOUBLE PRECISION) / NULLIF(COUNT(on_time), 0) AS on_time_rate"
    )
    return columns


def _sqlite_percentile(metric: str, fraction: float) -> str:
    # position = fraction * (n - 1); value = v[lo] + (v[hi] - v[lo]) * (position - lo)
    n, rn, v = f"{metric}_n", f"{metric}_rn", f"{metric}_s"
    pos = f"({fraction!r} * ({n} - 1))"
    lo = f"CAST({pos} AS INTEGER)"
    hi = f"(CASE WHEN {pos} > {lo} THEN {lo} + 1 ELSE {lo} END)"
    low_value = f"MAX(CASE WHEN {rn} = {lo} + 1 THEN {v} END)"
    high_value = f"MAX(CASE WHEN {rn} = {hi} + 1 THEN {v} END)"
    return f"{low_value} + ({high_value} - {low_value}) * MAX({pos} - {lo})"


def aggregate_select(dialect: Dialect, dimensions: Sequence[str], source: str) -> str:
    """Aggregates of the rows of ``source`` (a SELECT of order_sla columns) by ``dimensions``.

    Raises KeyError for a dimension not in :data:`DIMENSIONS`.
    """
    keys = [DIMENSIONS[name] for name in dimensions]
    key_columns = [f"{column} AS {name}" for name, column in zip(dimensions, keys, strict=True)]
    group_by = f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""
    columns = key_columns + _counts()
    if dialect.postgres:
        for metric in DURATIONS:
            columns += [
                f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY {metric}_s)"
                f" AS {metric}_{label}_s"
                for label, fraction in PERCENTILES
            ]
        return f"SELECT {', '.join(columns)}\nFROM ({source}) AS o\n{group_by}"
    partition = f"PARTITION BY {', '.join(keys)}" if keys else ""
    windows = []
    for metric in DURATIONS:
        null_split = (
            f"{partition}, {metric}_s IS NULL" if keys else f"PARTITION BY {metric}_s IS NULL"
        )
        windows.append(
            f"ROW_NUMBER() OVER ({null_split} ORDER BY {metric}_s) AS {metric}_rn, "
            f"COUNT({metric}_s) OVER ({partition}) AS {metric}_n"
        )
        columns += [
            f"{_sqlite_percentile(metric, fraction)} AS {metric}_{label}_s"
            for label, fraction in PERCENTILES
        ]
    ranked = f"SELECT o.*, {', '.join(windows)} FROM ({source}) AS o"
    return f"WITH ranked AS ({ranked})\nSELECT {', '.join(columns)}\nFROM ranked\n{group_by}"


def grouping_sets_select(
    sets: Sequence[tuple[str, ...]], source: str, *, totals: bool = True
) -> str:
    """PostgreSQL: every breakdown of ``sets`` (and the totals) in one GROUPING SETS pass.

    Each row has ``grouping_id`` (:func:`grouping_id` of its set), one column per
    dimension used by any set (NULL outside its set) and the aggregate columns.
    Rows come ordered by grouping_id, then by their set's dimensions in the set's
    order. Sets must name different dimension sets, and there must be at least one
    set or the totals. Raises KeyError for an unknown name.
    """
    used = [name for name in DIMENSIONS if any(name in by for by in sets)]
    keys = [DIMENSIONS[name] for name in used]
    columns = [f"{column} AS {name}" for name, column in zip(used, keys, strict=True)]
    columns += _counts()
    for metric in DURATIONS:
        columns += [
            f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY {metric}_s)"
            f" AS {metric}_{label}_s"
            for label, fraction in PERCENTILES
        ]
    grouping = f"GROUPING({', '.join(keys)})" if keys else "0"
    groups = ", ".join(
        ["()"] * totals + [f"({', '.join(DIMENSIONS[n] for n in by)})" for by in sets]
    )
    # ORDER BY cannot differ per set: per position, one typed item per dimension that
    # some set sorts by there; it is NULL (a tie) for the rows of every other set.
    order = [grouping]
    for position in range(max((len(by) for by in sets), default=0)):
        for name in used:
            ids = [
                str(grouping_id(used, by)) for by in sets if by[position : position + 1] == (name,)
            ]
            if ids:
                order.append(
                    f"CASE WHEN {grouping} IN ({', '.join(ids)}) THEN {DIMENSIONS[name]} END"
                )
    return (
        f"SELECT {grouping} AS grouping_id, {', '.join(columns)}\nFROM ({source}) AS o\n"
        f"GROUP BY GROUPING SETS ({groups})" + (f"\nORDER BY {', '.join(order)}" if keys else "")
    )


def grouping_id(used: Sequence[str], by: Sequence[str]) -> int:
    """PostgreSQL's GROUPING(used...) of the rows of set ``by``: a 1 bit per absent dimension."""
    return sum(1 << (len(used) - 1 - i) for i, name in enumerate(used) if name not in by)


def histogram_select(source: str) -> str:
    """Lead-time histogram from the ``lead_bucket`` column: ``bucket`` and ``orders``."""
    return (
        f"SELECT lead_bucket AS bucket, COUNT(*) AS orders FROM ({source}) AS o"
        " WHERE lead_bucket IS NOT NULL GROUP BY lead_bucket ORDER BY lead_bucket"
    )

"""SQL of the SLA aggregates over per-order rows (the ``order_sla`` columns).

Percentiles are linear interpolation between closest ranks, as PostgreSQL's
``percentile_cont``; each backend renders them (``SqlBackend.percentile_select``),
so both return the same numbers. :func:`grouping_sets_select` is PostgreSQL's
one-pass form of several breakdowns.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.db.backend import SqlBackend, percentile_cont_columns

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


def _grouped(dimensions: Sequence[str]) -> tuple[list[str], list[str], str]:
    """The key columns of ``dimensions``, their SELECT items and the GROUP BY ... ORDER
    BY clause ("" without dimensions). Raises KeyError for an unknown dimension."""
    keys = [DIMENSIONS[name] for name in dimensions]
    key_columns = [f"{column} AS {name}" for name, column in zip(dimensions, keys, strict=True)]
    group_by = f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""
    return keys, key_columns, group_by


def aggregate_select(backend: SqlBackend, dimensions: Sequence[str], source: str) -> str:
    """Aggregates of the rows of ``source`` (a SELECT of order_sla columns) by ``dimensions``.

    Raises KeyError for a dimension not in :data:`DIMENSIONS`.
    """
    keys, key_columns, group_by = _grouped(dimensions)
    return backend.percentile_select(
        key_columns + _counts(), keys, source, group_by, DURATIONS, PERCENTILES
    )


def counts_select(dimensions: Sequence[str], source: str) -> str:
    """The counts of :func:`aggregate_select` (no percentiles) by ``dimensions``, ordered
    by them. Raises KeyError for a dimension not in :data:`DIMENSIONS`."""
    _, key_columns, group_by = _grouped(dimensions)
    return f"SELECT {', '.join(key_columns + _counts())}\nFROM ({source}) AS o\n{group_by}"


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
    columns += percentile_cont_columns(DURATIONS, PERCENTILES)
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

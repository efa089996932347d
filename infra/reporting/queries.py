"""Run the SLA report's queries: all arithmetic happens in SQL, Python only reshapes rows.

The per-order SELECT of ``infra.db.sla_views`` is evaluated once per report
into a temporary table, then aggregated per breakdown; failures surface as
SQLAlchemy errors (``DBAPIError`` for a database outage, ``ProgrammingError``
or ``OperationalError`` when the SLA objects are missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from infra.db.models import UtcDateTime
from infra.db.sla_views import Dialect, order_sla_select
from infra.reporting.aggregate_sql import (
    DIMENSIONS,
    METRIC_COLUMNS,
    aggregate_select,
    histogram_select,
)
from infra.reporting.model import AtRiskOrder, Breakdown, GroupRow, HistogramBucket, SlaReport

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HISTOGRAM_BUCKET_HOURS = 24
HISTOGRAM_BUCKETS = 11  # 0-1 d ... 9-10 d, then 10 d and more
_SCRATCH = "sla_report_orders"
#: Columns the aggregates read: narrow rows keep PostgreSQL's sorts in memory and short.
_AGGREGATE_INPUT = (
    *DIMENSIONS.values(),
    "sla_state",
    "on_time",
    "lead_time_s",
    "time_to_ship_s",
    "time_in_transit_s",
)


def epoch_us(at: datetime) -> int:
    """``at`` as integer microseconds since 1970 (exact). Raises ValueError if naive."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the as-of instant needs an offset")
    return (at - EPOCH) // timedelta(microseconds=1)


def _metrics(row: Any) -> dict[str, int | float | None]:
    values = row._mapping
    result: dict[str, int | float | None] = {}
    for column in METRIC_COLUMNS:
        value = values[column]
        if column.endswith("_s") or column == "on_time_rate":
            result[column] = None if value is None else float(value)
        else:  # a count; SUM over no rows is NULL
            result[column] = int(value or 0)
    return result


def _key_text(value: object) -> str:
    return str(value)  # a PostgreSQL DATE and SQLite 'YYYY-MM-DD' text print the same


def build_report(
    engine: Engine,
    as_of: datetime,
    breakdowns: Sequence[tuple[str, ...]] = (),
    *,
    at_risk_limit: int = 50,
    histogram: bool = False,
) -> SlaReport:
    """The SLA report at ``as_of`` with one breakdown per entry of ``breakdowns``.

    Raises KeyError for an unknown dimension, SQLAlchemy errors as the module says.
    """
    for by in breakdowns:
        for name in by:
            if name not in DIMENSIONS:
                raise KeyError(name)
    dialect = Dialect(engine.dialect.name)
    with engine.begin() as conn:
        _fill_scratch(conn, dialect, epoch_us(as_of))
        source = f"SELECT {', '.join(_AGGREGATE_INPUT)} FROM {_SCRATCH}"
        totals = _metrics(conn.execute(text(aggregate_select(dialect, (), source))).one())
        groups = [
            Breakdown(by, _group_rows(conn, dialect, by, source))
            for by in dict.fromkeys(breakdowns)
        ]
        at_risk = _at_risk(conn, f"SELECT * FROM {_SCRATCH}", at_risk_limit)
        buckets = _histogram(conn, source) if histogram else []
        conn.execute(text(f"DROP TABLE {_SCRATCH}"))
    at_risk_total = int(totals["at_risk"] or 0) + int(totals["breached"] or 0)
    return SlaReport(
        as_of=as_of.astimezone(UTC),
        totals=totals,
        breakdowns=groups,
        at_risk_orders=at_risk,
        at_risk_total=at_risk_total,
        lead_time_histogram=buckets,
    )


def _fill_scratch(conn: Connection, dialect: Dialect, as_of: int) -> None:
    # Evaluating the per-order SELECT once and aggregating the result several times is
    # cheaper than re-running it for every breakdown (it reads every order).
    select = order_sla_select(dialect, "CAST(:as_of_us AS BIGINT)")
    if dialect.postgres:
        # JIT compiling these wide CASE expressions costs far more than it saves, and the
        # sorts behind the percentiles should stay in memory.
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
    # A scratch table left by a failed report on a pooled SQLite connection is replaced.
    conn.execute(text(f"DROP TABLE IF EXISTS {_SCRATCH}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {_SCRATCH} AS {select}"), {"as_of_us": as_of})


def _group_rows(
    conn: Connection, dialect: Dialect, by: tuple[str, ...], source: str
) -> list[GroupRow]:
    rows = conn.execute(text(aggregate_select(dialect, by, source)))
    return [
        GroupRow(key={name: _key_text(row._mapping[name]) for name in by}, metrics=_metrics(row))
        for row in rows
    ]


def _at_risk(conn: Connection, source: str, limit: int) -> list[AtRiskOrder]:
    query = text(
        "SELECT order_id, sla_state, at_risk_reason, shipping_tier, carrier,"
        " destination_region, status, created_at, deadline_at, shipped_at, lateness_s"
        f" FROM ({source}) AS o WHERE sla_state IN ('at_risk', 'breached')"
        " ORDER BY deadline_at, order_id LIMIT :limit"
    ).columns(created_at=UtcDateTime(), deadline_at=UtcDateTime(), shipped_at=UtcDateTime())
    return [
        AtRiskOrder(
            order_id=row.order_id,
            sla_state=row.sla_state,
            at_risk_reason=row.at_risk_reason,
            shipping_tier=row.shipping_tier,
            carrier=row.carrier,
            destination_region=row.destination_region,
            status=row.status,
            created_at=row.created_at,
            deadline_at=row.deadline_at,
            shipped_at=row.shipped_at,
            lateness_s=float(row.lateness_s),
        )
        for row in conn.execute(query, {"limit": limit})
    ]


def _histogram(conn: Connection, source: str) -> list[HistogramBucket]:
    counts = {
        int(bucket): int(orders)
        for bucket, orders in conn.execute(
            text(histogram_select(source, HISTOGRAM_BUCKET_HOURS, HISTOGRAM_BUCKETS))
        )
    }
    width = HISTOGRAM_BUCKET_HOURS
    return [
        HistogramBucket(
            low_hours=k * width,
            high_hours=(k + 1) * width if k < HISTOGRAM_BUCKETS - 1 else None,
            orders=counts.get(k, 0),
        )
        for k in range(HISTOGRAM_BUCKETS)
    ]

"""Run the SLA report's queries: all arithmetic happens in SQL, Python only reshapes rows.

The per-order rows (``infra.reporting.order_sla_sql.report_rows_select``) are
evaluated once per report into a narrow temporary table, which the histogram,
the at-risk list and the aggregates read (a read-only standby, which cannot
create one, reads the per-order SELECT as a subquery each time instead). Where
the backend lets a second connection share the snapshot, that connection
computes the totals and half of the breakdowns meanwhile
(``infra.reporting.shared_snapshot``); how the aggregates are computed is
``infra.reporting.aggregation``'s. Failures surface as SQLAlchemy errors
(``DBAPIError`` for a database outage, ``ProgrammingError`` or
``OperationalError`` when the SLA objects are missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, text

from infra.db.backend import SqlBackend, backend_for
from infra.db.models import UtcDateTime
from infra.reporting.aggregate_sql import DIMENSIONS, histogram_select
from infra.reporting.aggregation import Grouped, Totals, aggregate
from infra.reporting.model import (
    STALE_AFTER,
    AtRiskOrder,
    Breakdown,
    HistogramBucket,
    SlaReport,
)
from infra.reporting.order_sla_sql import report_rows_select
from infra.reporting.shared_snapshot import SharedSnapshotWorker

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


def build_report(
    engine: Engine,
    as_of: datetime,
    breakdowns: Sequence[tuple[str, ...]] = (),
    *,
    at_risk_limit: int = 50,
    histogram: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SlaReport:
    """The SLA report at ``as_of`` with one breakdown per entry of ``breakdowns``,
    over the orders created in [``since``, ``until``) (either end open when None).

    Every figure and every listed order describes the world at ``as_of``: what a
    database that only received the events up to ``as_of`` would show.
    Raises KeyError for an unknown dimension, ValueError for a naive time,
    SQLAlchemy errors as the module says.
    """
    for by in breakdowns:
        for name in by:
            if name not in DIMENSIONS:
                raise KeyError(name)
    backend = backend_for(engine)
    as_of_us = epoch_us(as_of)
    window = creation_window(since, until)
    unique = list(dict.fromkeys(breakdowns))
    params = {"as_of_us": as_of_us}
    # One snapshot for every statement: the list's order details match the figures.
    with (
        engine.connect().execution_options(**backend.report_options) as conn,
        conn.begin() as transaction,
        ExitStack() as stack,
    ):
        standby = backend.in_recovery(conn)
        mine, other = unique, None
        if backend.shares_snapshots and not standby:
            # The other connection computes the totals and the later breakdowns from
            # the same snapshot while this one fills the scratch table.
            worker = stack.enter_context(SharedSnapshotWorker(engine, conn))
            mine, theirs = unique[: len(unique) // 2], unique[len(unique) // 2 :]
            per_order = _per_order(backend, window)
            other = worker.submit(lambda c: aggregate(backend, c, theirs, per_order, True, params))
        if standby:
            scratch = f"({_rows_select(backend, window)}) AS {_SCRATCH}"
        else:
            scratch = _SCRATCH
            _fill_scratch(conn, backend, as_of_us, window)
        source = f"SELECT {', '.join(_AGGREGATE_INPUT)} FROM {scratch}"
        totals, grouped = _mine_and_theirs(backend, conn, mine, source, params, other)
        at_risk = _at_risk(conn, backend, as_of_us, at_risk_limit, scratch)
        buckets = _histogram(conn, scratch, params) if histogram else []
        newest, stale_since, after = _newest_and_later(conn, as_of_us)
        if not standby and conn.dialect.name == "sqlite":
            # The report changes nothing: a rollback discards the scratch table whole,
            # where DROP TABLE frees each of its pages (0.25-0.4 s CPU at 1M orders).
            # Not on PostgreSQL: an abort record is not flushed at once, so a standby
            # would lag behind it for a moment after every report.
            transaction.rollback()
        elif not standby:
            conn.execute(text(f"DROP TABLE {_SCRATCH}"))
    at_risk_total = int(totals["at_risk"] or 0) + int(totals["breached"] or 0)
    return SlaReport(
        as_of=as_of.astimezone(UTC),
        totals=totals,
        breakdowns=[Breakdown(by, grouped[by]) for by in unique],
        at_risk_orders=at_risk,
        at_risk_total=at_risk_total,
        lead_time_histogram=buckets,
        created_since=since,
        created_until=until,
        newest_order_at=newest,
        stale_since=stale_since,
        orders_after_as_of=after,
    )


def _mine_and_theirs(
    backend: SqlBackend,
    conn: Connection,
    mine: Sequence[tuple[str, ...]],
    source: str,
    params: dict[str, int],
    theirs: Future[tuple[Totals | None, Grouped]] | None,
) -> tuple[Totals, Grouped]:
    """The totals and every breakdown: ``mine`` computed here, the rest (and the totals)
    by the other connection when there is one."""
    if theirs is None:
        totals, grouped = aggregate(backend, conn, mine, source, True, params)
    else:
        _, grouped = aggregate(backend, conn, mine, source, False, params) if mine else (None, {})
        totals, found = theirs.result()
        grouped.update(found)
    return totals or {}, grouped  # never None: one side always computes the totals


def _newest_and_later(conn: Connection, as_of: int) -> tuple[datetime | None, datetime | None, int]:
    """When the newest order was placed; the newest event time if ``as_of`` is more
    than :data:`STALE_AFTER` past it (else None); how many orders came after ``as_of``.

    The first and last read the index on ``sales.created_at``. An order's events come
    after its creation, so only when the newest order is that old can the newest
    event be: then, and only then, ``sales`` is scanned for it (``status_at`` is the
    time of each order's latest event).
    """
    at = EPOCH + timedelta(microseconds=as_of)
    newest = conn.execute(
        text("SELECT MAX(created_at) AS newest FROM sales").columns(newest=UtcDateTime())
    ).scalar_one()
    later = conn.execute(
        text("SELECT COUNT(*) FROM sales WHERE created_at > :at").bindparams(
            bindparam("at", type_=UtcDateTime())
        ),
        {"at": at},
    ).scalar_one()
    stale_since = None
    if newest is not None and at - newest > STALE_AFTER:
        latest = conn.execute(
            text("SELECT MAX(status_at) AS latest FROM sales").columns(latest=UtcDateTime())
        ).scalar_one()
        stale_since = latest if latest is not None and at - latest > STALE_AFTER else None
    return newest, stale_since, int(later)


def creation_window(since: datetime | None, until: datetime | None) -> str:
    """SQL restricting ``created_us`` to [since, until); empty when both are None.

    The bounds are integers written into the text (no user text reaches the SQL).
    """
    bounds = []
    if since is not None:
        bounds.append(f"AND created_us >= {int(epoch_us(since))}")
    if until is not None:
        bounds.append(f"AND created_us < {int(epoch_us(until))}")
    return " ".join(bounds)


def _rows_select(backend: SqlBackend, window: str) -> str:
    bucket_us = HISTOGRAM_BUCKET_HOURS * 3_600_000_000
    return report_rows_select(
        backend, "CAST(:as_of_us AS BIGINT)", bucket_us, HISTOGRAM_BUCKETS, window
    )


def _per_order(backend: SqlBackend, window: str) -> str:
    """The aggregates' input straight from the per-order SELECT (no scratch table)."""
    return f"SELECT {', '.join(_AGGREGATE_INPUT)} FROM ({_rows_select(backend, window)}) AS r"


def _fill_scratch(conn: Connection, backend: SqlBackend, as_of: int, window: str) -> None:
    # Evaluating the per-order SELECT once and aggregating the result several times is
    # cheaper than re-running it for every breakdown (it reads every order).
    select = _rows_select(backend, window)
    # A scratch table left by a failed report on a pooled SQLite connection is replaced.
    conn.execute(text(f"DROP TABLE IF EXISTS {_SCRATCH}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {_SCRATCH} AS {select}"), {"as_of_us": as_of})


def _at_risk(
    conn: Connection, backend: SqlBackend, as_of: int, limit: int, scratch: str = _SCRATCH
) -> list[AtRiskOrder]:
    # Only the listed orders (at most ``limit``) are joined back to ``sales`` for the
    # columns they show. An order whose latest event is after the as-of instant looks
    # up its state then in ``order_history``: the latest event by precedence not after
    # it (one backward step on the (order_id, occurred_at, status_rank, event_id)
    # index) and its failures so far. Milestones are first times: kept if reached.
    at = backend.once(backend.timestamp("CAST(:as_of_us AS BIGINT)"))
    since_as_of = f"h.order_id = o.order_id AND h.occurred_at <= {at}"
    query = text(
        "SELECT o.order_id, o.sla_state, o.at_risk_reason, s.shipping_tier, s.carrier,"
        " s.destination_region, s.created_at, p.ship_within_hours,"
        f" CASE WHEN s.status_at <= {at} THEN s.status ELSE"
        f" (SELECT h.status FROM order_history h WHERE {since_as_of}"
        " ORDER BY h.occurred_at DESC, h.status_rank DESC, h.event_id DESC LIMIT 1)"
        " END AS status,"
        f" CASE WHEN s.shipped_at <= {at} THEN s.shipped_at END AS shipped_at,"
        f" CASE WHEN s.status_at <= {at} THEN s.failed_attempts ELSE"
        f" (SELECT COUNT(*) FROM order_history h WHERE {since_as_of}"
        " AND h.status = 'delivery_failed') END AS failed_attempts,"
        f" {backend.timestamp('o.deadline_us')} AS deadline_at,"
        f" {backend.seconds('CAST(:as_of_us AS BIGINT) - o.deadline_us')} AS lateness_s"
        " FROM (SELECT order_id, sla_state, at_risk_reason, deadline_us"
        f" FROM {scratch} WHERE sla_state IN ('at_risk', 'breached')"
        " ORDER BY deadline_us, order_id LIMIT :limit) AS o"
        " JOIN sales s ON s.order_id = o.order_id"
        " LEFT JOIN sla_policy p ON p.shipping_tier = s.shipping_tier"
        " ORDER BY o.deadline_us, o.order_id"
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
            ship_within_hours=row.ship_within_hours,
            failed_attempts=int(row.failed_attempts),
        )
        for row in conn.execute(query, {"limit": limit, "as_of_us": as_of})
    ]


def _histogram(
    conn: Connection, scratch: str = _SCRATCH, params: dict[str, int] | None = None
) -> list[HistogramBucket]:
    select = text(histogram_select(f"SELECT * FROM {scratch}"))
    counts = {int(bucket): int(orders) for bucket, orders in conn.execute(select, params or {})}
    width = HISTOGRAM_BUCKET_HOURS
    return [
        HistogramBucket(
            low_hours=k * width,
            high_hours=(k + 1) * width if k < HISTOGRAM_BUCKETS - 1 else None,
            orders=counts.get(k, 0),
        )
        for k in range(HISTOGRAM_BUCKETS)
    ]

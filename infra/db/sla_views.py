"""SQL of the SLA figures: the ``sla_policy`` table, the per-order SELECT and the views.

One SQL text serves PostgreSQL and SQLite: every time is turned into integer
microseconds since 1970 (exact on both backends), so deadlines, comparisons
and durations mean the same thing as ``domain.sla`` to the microsecond. Only
a handful of expressions differ per dialect (:class:`Dialect`).

The per-order SELECT takes the as-of instant as a parameter: the ``order_sla``
view passes "now", ``sla-pipeline report --as-of`` a bind parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Connection, Integer, MetaData, String, Table, insert, text

from domain.sla import DEFAULT_POLICY, SlaPolicy

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000

sla_metadata = MetaData()

#: Deadline policy per shipping tier (see ``domain.sla.TierPolicy``); edit rows to change it.
sla_policy = Table(
    "sla_policy",
    sla_metadata,
    Column("shipping_tier", String(16), primary_key=True),
    Column("promise_days", Integer, nullable=False),
    Column("business_days", Boolean, nullable=False),
    Column("end_of_day", Boolean, nullable=False),
    Column("ship_within_hours", Integer, nullable=False),
    Column("at_risk_remaining_pct", Integer, nullable=False),
)


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ between PostgreSQL and SQLite."""

    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def epoch_us(self, column: str) -> str:
        """A stored UTC timestamp as integer microseconds since 1970 (NULL stays NULL)."""
        if self.postgres:
            # date_part is float8 (faster than numeric EXTRACT): e = x / 1e6 correctly rounded,
            # within 2^-21 s (0.48 us) of the true value while e < 2^33 s (year 2242). So
            # floor(e) is the exact whole second and the fraction times 1e6 is within 0.48 of
            # the microseconds: both round exactly. Rounding e * 1e6 in one go is not exact:
            # from 2041 the product is only a multiple of 0.5, and ties round to even.
            epoch = f"date_part('epoch', {column})"
            return (
                f"(CAST(floor({epoch}) AS BIGINT) * 1000000"
                f" + CAST(round(({epoch} - floor({epoch})) * 1000000) AS BIGINT))"
            )
        # SQLite holds 'YYYY-MM-DD HH:MM:SS[.ffffff]' text. Whole seconds from the first 19
        # characters: strftime('%s') of the full text rounds the fraction to the millisecond
        # (.9995 would read a second late); julianday() floats are not exact either.
        return (
            f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({column} || '000000', 21, 6) AS INTEGER))"
        )

    def now_us(self) -> str:
        if self.postgres:
            return "CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)"
        return "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"

    def timestamp(self, micros: str) -> str:
        """Integer microseconds back to a timestamp (text in SQLAlchemy's format on SQLite)."""
        if self.postgres:
            return f"(TIMESTAMPTZ '1970-01-01 00:00:00+00' + {micros} * INTERVAL '1 microsecond')"
        return (
            f"(datetime({micros} / 1000000, 'unixepoch') || '.'"
            f" || substr('000000' || ({micros} % 1000000), -6))"
        )

    def day(self, column: str) -> str:
        """The UTC calendar day of a timestamp: DATE on PostgreSQL, 'YYYY-MM-DD' on SQLite."""
        if self.postgres:
            return f"CAST({column} AT TIME ZONE 'UTC' AS DATE)"
        return f"substr({column}, 1, 10)"

    def fence(self) -> str:
        """Ends a CTE body so PostgreSQL computes its columns once instead of inlining them.

        Without it the planner substitutes each column's expression into every use,
        and the deadline expression would be evaluated a dozen times per order.
        """
        return "OFFSET 0" if self.postgres else ""

    def once(self, expression: str) -> str:
        """``expression`` computed once per statement (PostgreSQL), not once per row."""
        return f"(SELECT {expression})" if self.postgres else expression

    def reached(self, column: str, as_of_us: str, value: bool) -> str:
        """``column`` if it is not after the as-of instant, else NULL.

        The value is integer microseconds when ``value``, else just 1 (a flag). PostgreSQL
        compares the stored timestamps and converts only the ones it returns: the
        conversions are the costliest part of the per-order SELECT. The as-of timestamp
        is a scalar subquery, so it is computed once per statement, not once per row.
        """
        result = self.epoch_us(column) if value else "1"
        if self.postgres:
            return f"CASE WHEN {column} <= {self.once(self.timestamp(as_of_us))} THEN {result} END"
        return f"CASE WHEN {self.epoch_us(column)} <= {as_of_us} THEN {result} END"

    def seconds(self, micros: str) -> str:
        return f"(CAST({micros} AS DOUBLE PRECISION) / 1000000.0)"


#: (name, ``sales`` column, whether its time is needed or only whether it was reached)
MILESTONES = (
    ("shipped", "shipped_at", True),
    ("ofd", "out_for_delivery_at", False),
    ("failed", "first_failed_at", False),
    ("delivered", "delivered_at", True),
    ("returned", "returned_at", False),
    ("lost", "lost_at", False),
    ("cancelled", "cancelled_at", False),
)


def _per_order_ctes(dialect: Dialect, as_of_us: str, wide: bool, window: str = "") -> str:
    """``WITH ...`` ending in CTE ``f``: one row per judged order with its integer figures.

    ``wide`` carries the ``sales`` columns only the view shows (status and timestamps);
    the report leaves them out, because every column is copied at each fenced step.
    ``window`` is extra SQL ANDed to the creation filter (``created_us`` is in scope).
    """
    d = dialect
    reached = ",\n".join(
        f"    {d.reached('s.' + col, as_of_us, value)} AS {name}_r"
        for name, col, value in MILESTONES
    )
    shown = "s.status, s.created_at, s.shipped_at, s.delivered_at," if wide else ""
    carried = "status, created_at, shipped_at, delivered_at," if wide else ""
    # Business days: Monday=0 weekday of the creation day; a weekend start counts from Friday.
    # Written out where used, so orders of other tiers never evaluate it.
    weekday = f"((created_us / {DAY_US} + 3) % 7)"
    back_days = f"(CASE WHEN {weekday} >= 5 THEN {weekday} - 4 ELSE 0 END)"
    wd2 = f"(CASE WHEN {weekday} >= 5 THEN 4 ELSE {weekday} END)"
    business_days = (
        "7 * (promise_days / 5) + promise_days % 5"
        f" + CASE WHEN {wd2} + promise_days % 5 >= 5 THEN 2 ELSE 0 END - {back_days}"
    )
    due = (
        "CASE WHEN promised_us IS NOT NULL THEN promised_us"
        " WHEN promise_days IS NULL THEN NULL"
        f" ELSE created_us + {DAY_US} * (CASE WHEN business_days AND promise_days > 0"
        f" THEN {business_days} ELSE promise_days END) END"
    )
    # Fences (see Dialect.fence) sit where a column is used several times further up: the
    # epoch conversions (raw), the deadline (e) and the two state CASEs (r). Each step
    # names the columns it passes on, since every column is copied at every fence.
    return f"""
WITH raw AS (
  SELECT s.order_id, s.shipping_tier, s.carrier, s.destination_region, {shown}
    {d.day("s.created_at")} AS created_day,
    {d.epoch_us("s.created_at")} AS created_us,
    {d.epoch_us("s.promised_delivery_at")} AS promised_us,
{reached},
    {d.once(as_of_us)} AS as_of_us,
    p.promise_days, p.business_days, p.end_of_day, p.ship_within_hours,
    p.at_risk_remaining_pct
  FROM sales s LEFT JOIN sla_policy p ON p.shipping_tier = s.shipping_tier
  WHERE s.created_at IS NOT NULL {d.fence()}
), d AS (
  SELECT raw.*, {due} AS due_us
  FROM raw WHERE created_us <= as_of_us {window}
), e AS (
  SELECT order_id, shipping_tier, carrier, destination_region, {carried} created_day,
    created_us, promised_us, shipped_r, ofd_r, failed_r, delivered_r, returned_r, lost_r,
    cancelled_r, as_of_us, ship_within_hours, at_risk_remaining_pct,
    CASE WHEN promised_us IS NULL AND end_of_day
      THEN (due_us / {DAY_US} + 1) * {DAY_US} - 1 ELSE due_us END AS deadline_us
  FROM d {d.fence()}
), r AS (
  SELECT order_id, shipping_tier, carrier, destination_region, {carried} created_day,
    created_us, promised_us, shipped_r, delivered_r, as_of_us, deadline_us,
    CASE
      WHEN ship_within_hours IS NOT NULL AND shipped_r IS NULL
        AND as_of_us - created_us > ship_within_hours * {HOUR_US} THEN 'not_shipped'
      WHEN failed_r IS NOT NULL THEN 'delivery_failed'
      WHEN at_risk_remaining_pct IS NOT NULL AND ofd_r IS NULL
        AND (deadline_us - as_of_us) * 100 < (deadline_us - created_us) * at_risk_remaining_pct
        THEN 'deadline_near'
    END AS risk,
    CASE
      WHEN delivered_r IS NOT NULL THEN
        CASE WHEN delivered_r <= deadline_us THEN 'met' ELSE 'missed' END
      WHEN cancelled_r IS NOT NULL THEN 'cancelled'
      WHEN lost_r IS NOT NULL OR returned_r IS NOT NULL THEN 'lost'
      WHEN as_of_us > deadline_us THEN 'breached'
    END AS settled
  FROM e WHERE deadline_us IS NOT NULL {d.fence()}
), f AS (
  SELECT r.*,
    COALESCE(settled, CASE WHEN risk IS NOT NULL THEN 'at_risk' ELSE 'on_track' END) AS state
  FROM r
)"""


ON_TIME = "CASE WHEN state = 'met' THEN 1 WHEN state IN ('missed', 'lost', 'breached') THEN 0 END"


def order_sla_select(dialect: Dialect, as_of_us: str) -> str:
    """The per-order SLA SELECT evaluated at ``as_of_us`` (an SQL expression).

    Orders whose creation has not arrived, created after the as-of instant, or
    with neither an explicit promise nor a policy row for their tier are left out.
    """
    d = dialect
    return f"""{_per_order_ctes(d, as_of_us, wide=True)}
SELECT order_id, shipping_tier, carrier, destination_region, status, created_day,
  created_at, shipped_at, delivered_at,
  {d.timestamp("deadline_us")} AS deadline_at,
  CASE WHEN promised_us IS NOT NULL THEN 'explicit' ELSE 'policy' END AS deadline_source,
  state AS sla_state,
  CASE WHEN state = 'at_risk' THEN risk END AS at_risk_reason,
  {ON_TIME} AS on_time,
  {d.seconds("shipped_r - created_us")} AS time_to_ship_s,
  {d.seconds("delivered_r - shipped_r")} AS time_in_transit_s,
  {d.seconds("delivered_r - created_us")} AS lead_time_s,
  CASE WHEN state IN ('met', 'missed') THEN {d.seconds("delivered_r - deadline_us")}
    WHEN state IN ('on_track', 'at_risk', 'breached') THEN {d.seconds("as_of_us - deadline_us")}
    END AS lateness_s
FROM f"""


def report_rows_select(
    dialect: Dialect, as_of_us: str, bucket_us: int, buckets: int, window: str = ""
) -> str:
    """The per-order rows the report aggregates: ``order_sla``'s figures, narrower.

    Columns: order_id, the four dimension columns, sla_state, at_risk_reason, on_time,
    deadline_us (integer microseconds), the three durations in seconds, and
    ``lead_bucket``: whole ``bucket_us`` in the lead time, at most ``buckets - 1``
    (a negative lead time, from illegal data, falls in bucket 0). ``window`` restricts
    the orders as :func:`_per_order_ctes` says.
    """
    d = dialect
    lead = "delivered_r - created_us"
    return f"""{_per_order_ctes(d, as_of_us, wide=False, window=window)}
SELECT order_id, shipping_tier, carrier, destination_region, created_day,
  state AS sla_state,
  CASE WHEN state = 'at_risk' THEN risk END AS at_risk_reason,
  {ON_TIME} AS on_time,
  deadline_us,
  {d.seconds("shipped_r - created_us")} AS time_to_ship_s,
  {d.seconds("delivered_r - shipped_r")} AS time_in_transit_s,
  {d.seconds(lead)} AS lead_time_s,
  CASE WHEN {lead} < 0 THEN 0 WHEN {lead} >= {bucket_us * (buckets - 1)} THEN {buckets - 1}
    ELSE ({lead}) / {bucket_us} END AS lead_bucket
FROM f"""


def create_view_statements(dialect: Dialect) -> list[str]:
    """DDL creating ``order_sla`` (as of now) and ``sla_daily`` (by creation day)."""
    from infra.reporting.aggregate_sql import aggregate_select

    per_order = order_sla_select(dialect, dialect.now_us())
    daily = aggregate_select(dialect, ("day",), "SELECT * FROM order_sla")
    return [f"CREATE VIEW order_sla AS {per_order}", f"CREATE VIEW sla_daily AS {daily}"]


DROP_VIEW_STATEMENTS = ["DROP VIEW IF EXISTS sla_daily", "DROP VIEW IF EXISTS order_sla"]


def policy_rows(policy: SlaPolicy = DEFAULT_POLICY) -> list[dict[str, object]]:
    """``sla_policy`` rows for ``policy``."""
    return [
        {
            "shipping_tier": tier.value,
            "promise_days": rule.promise_days,
            "business_days": rule.business_days,
            "end_of_day": rule.end_of_day,
            "ship_within_hours": rule.ship_within_hours,
            "at_risk_remaining_pct": rule.at_risk_remaining_pct,
        }
        for tier, rule in policy.items()
    ]


def install(connection: Connection, rows: Sequence[dict[str, object]] | None = None) -> None:
    """Create and seed ``sla_policy`` and create the views (``sales`` must exist).

    Used by migration 0002 and by tests on tables made with ``create_all``.
    Raises the driver's error (as SQLAlchemy DBAPIError) when an object already exists.
    """
    sla_policy.create(connection)
    connection.execute(insert(sla_policy), list(rows if rows is not None else policy_rows()))
    for statement in create_view_statements(Dialect(connection.dialect.name)):
        connection.execute(text(statement))


def recreate_views(connection: Connection) -> None:
    """Drop and create the views with the current SQL (a view keeps the SQL it was made with).

    Used by migrations that correct the views' SQL; ``sla_policy`` is left as it is.
    """
    for statement in DROP_VIEW_STATEMENTS:
        connection.execute(text(statement))
    for statement in create_view_statements(Dialect(connection.dialect.name)):
        connection.execute(text(statement))


def uninstall(connection: Connection) -> None:
    """Drop the views and ``sla_policy`` (the downgrade of migration 0002)."""
    for statement in DROP_VIEW_STATEMENTS:
        connection.execute(text(statement))
    sla_policy.drop(connection, checkfirst=True)

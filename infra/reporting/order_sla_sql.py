"""SQL of the SLA figures per order: the ``order_sla`` SELECT and the report's narrower rows.

One SQL template serves every backend: each time is turned into integer
microseconds since 1970 (exact on PostgreSQL and SQLite), so deadlines,
comparisons and durations mean the same thing as ``domain.sla`` to the
microsecond. The few expressions that differ come from the backend
(``infra.db.backend.SqlBackend``).

The per-order SELECT takes the as-of instant as a parameter: the ``order_sla``
view passes "now", ``sla-pipeline report --as-of`` a bind parameter.
"""

from __future__ import annotations

from domain.lifecycle import OrderStatus
from domain.order import MILESTONE_FIELDS
from infra.db.backend import SqlBackend

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000

#: (short name in the SQL, ``sales`` column, whether its time is needed or only whether
#: it was reached) of the milestones the figures read
MILESTONES = tuple(
    (name, MILESTONE_FIELDS[status], value)
    for status, name, value in (
        (OrderStatus.SHIPPED, "shipped", True),
        (OrderStatus.OUT_FOR_DELIVERY, "ofd", False),
        (OrderStatus.DELIVERY_FAILED, "failed", False),
        (OrderStatus.DELIVERED, "delivered", True),
        (OrderStatus.RETURNED_TO_SENDER, "returned", False),
        (OrderStatus.LOST, "lost", False),
        (OrderStatus.CANCELLED, "cancelled", False),
    )
)


def _per_order_ctes(backend: SqlBackend, as_of_us: str, wide: bool, window: str = "") -> str:
    """``WITH ...`` ending in CTE ``f``: one row per judged order with its integer figures.

    ``wide`` carries the ``sales`` columns only the view shows (status and timestamps);
    the report leaves them out, because every column is copied at each fenced step.
    ``window`` is extra SQL ANDed to the creation filter (``created_us`` is in scope).
    """
    d = backend
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
    # Fences (see SqlBackend.fence) sit where a column is used several times further up: the
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


def order_sla_select(backend: SqlBackend, as_of_us: str) -> str:
    """The per-order SLA SELECT evaluated at ``as_of_us`` (an SQL expression).

    Orders whose creation has not arrived, created after the as-of instant, or
    with neither an explicit promise nor a policy row for their tier are left out.
    """
    d = backend
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
    backend: SqlBackend, as_of_us: str, bucket_us: int, buckets: int, window: str = ""
) -> str:
    """The per-order rows the report aggregates: ``order_sla``'s figures, narrower.

    Columns: order_id, the four dimension columns, sla_state, at_risk_reason, on_time,
    deadline_us (integer microseconds), the three durations in seconds, and
    ``lead_bucket``: whole ``bucket_us`` in the lead time, at most ``buckets - 1``
    (a negative lead time, from illegal data, falls in bucket 0). ``window`` restricts
    the orders as :func:`_per_order_ctes` says.
    """
    d = backend
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

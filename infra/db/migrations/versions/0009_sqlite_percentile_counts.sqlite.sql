-- 0009_sqlite_percentile_counts: the views as this migration creates them on sqlite, frozen.
-- Statements end with a line holding only ";".

CREATE VIEW order_sla AS 
WITH raw AS (
  SELECT s.order_id, s.shipping_tier, s.carrier, s.destination_region, s.status, s.created_at, s.shipped_at, s.delivered_at,
    date(s.created_at / 1000000, 'unixepoch') AS created_day,
    s.created_at AS created_us,
    s.promised_delivery_at AS promised_us,
    CASE WHEN s.shipped_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN s.shipped_at END AS shipped_r,
    CASE WHEN s.out_for_delivery_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN 1 END AS ofd_r,
    CASE WHEN s.first_failed_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN 1 END AS failed_r,
    CASE WHEN s.delivered_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN s.delivered_at END AS delivered_r,
    CASE WHEN s.returned_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN 1 END AS returned_r,
    CASE WHEN s.lost_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN 1 END AS lost_r,
    CASE WHEN s.cancelled_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) THEN 1 END AS cancelled_r,
    CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) AS as_of_us,
    p.promise_days, p.business_days, p.end_of_day, p.ship_within_hours,
    p.at_risk_remaining_pct
  FROM sales s LEFT JOIN sla_policy p ON p.shipping_tier = s.shipping_tier
  WHERE s.created_at IS NOT NULL LIMIT -1 OFFSET 0
), d AS (
  SELECT raw.*, CASE WHEN promised_us IS NOT NULL THEN promised_us WHEN promise_days IS NULL THEN NULL ELSE created_us + 86400000000 * (CASE WHEN business_days AND promise_days > 0 THEN 7 * (promise_days / 5) + promise_days % 5 + CASE WHEN (CASE WHEN ((created_us / 86400000000 + 3) % 7) >= 5 THEN 4 ELSE ((created_us / 86400000000 + 3) % 7) END) + promise_days % 5 >= 5 THEN 2 ELSE 0 END - (CASE WHEN ((created_us / 86400000000 + 3) % 7) >= 5 THEN ((created_us / 86400000000 + 3) % 7) - 4 ELSE 0 END) ELSE promise_days END) END AS due_us
  FROM raw WHERE created_us <= as_of_us 
), e AS (
  SELECT order_id, shipping_tier, carrier, destination_region, status, created_at, shipped_at, delivered_at, created_day,
    created_us, promised_us, shipped_r, ofd_r, failed_r, delivered_r, returned_r, lost_r,
    cancelled_r, as_of_us, ship_within_hours, at_risk_remaining_pct,
    CASE WHEN promised_us IS NULL AND end_of_day
      THEN (due_us / 86400000000 + 1) * 86400000000 - 1 ELSE due_us END AS deadline_us
  FROM d LIMIT -1 OFFSET 0
), r AS (
  SELECT order_id, shipping_tier, carrier, destination_region, status, created_at, shipped_at, delivered_at, created_day,
    created_us, promised_us, shipped_r, delivered_r, as_of_us, deadline_us,
    CASE
      WHEN ship_within_hours IS NOT NULL AND shipped_r IS NULL
        AND as_of_us - created_us > ship_within_hours * 3600000000 THEN 'not_shipped'
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
  FROM e WHERE deadline_us IS NOT NULL LIMIT -1 OFFSET 0
), f AS (
  SELECT r.*,
    COALESCE(settled, CASE WHEN risk IS NOT NULL THEN 'at_risk' ELSE 'on_track' END) AS state
  FROM r
)
SELECT order_id, shipping_tier, carrier, destination_region, status, created_day,
  created_at, shipped_at, delivered_at,
  deadline_us AS deadline_at,
  CASE WHEN promised_us IS NOT NULL THEN 'explicit' ELSE 'policy' END AS deadline_source,
  state AS sla_state,
  CASE WHEN state = 'at_risk' THEN risk END AS at_risk_reason,
  CASE WHEN state = 'met' THEN 1 WHEN state IN ('missed', 'lost', 'breached') THEN 0 END AS on_time,
  (CAST(shipped_r - created_us AS DOUBLE PRECISION) / 1000000.0) AS time_to_ship_s,
  (CAST(delivered_r - shipped_r AS DOUBLE PRECISION) / 1000000.0) AS time_in_transit_s,
  (CAST(delivered_r - created_us AS DOUBLE PRECISION) / 1000000.0) AS lead_time_s,
  CASE WHEN state IN ('met', 'missed') THEN (CAST(delivered_r - deadline_us AS DOUBLE PRECISION) / 1000000.0)
    WHEN state IN ('on_track', 'at_risk', 'breached') THEN (CAST(as_of_us - deadline_us AS DOUBLE PRECISION) / 1000000.0)
    END AS lateness_s
FROM f
;
CREATE VIEW sla_daily AS WITH src AS MATERIALIZED (SELECT * FROM order_sla),
agg AS (SELECT created_day AS k0, created_day AS day, COUNT(*) AS orders, SUM(CASE WHEN sla_state = 'on_track' THEN 1 ELSE 0 END) AS on_track, SUM(CASE WHEN sla_state = 'at_risk' THEN 1 ELSE 0 END) AS at_risk, SUM(CASE WHEN sla_state = 'breached' THEN 1 ELSE 0 END) AS breached, SUM(CASE WHEN sla_state = 'met' THEN 1 ELSE 0 END) AS met, SUM(CASE WHEN sla_state = 'missed' THEN 1 ELSE 0 END) AS missed, SUM(CASE WHEN sla_state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, SUM(CASE WHEN sla_state = 'lost' THEN 1 ELSE 0 END) AS lost, COUNT(on_time) AS decided, CAST(SUM(on_time) AS DOUBLE PRECISION) / NULLIF(COUNT(on_time), 0) AS on_time_rate, COUNT(lead_time_s) AS n_lead_time, COUNT(time_to_ship_s) AS n_time_to_ship, COUNT(time_in_transit_s) AS n_time_in_transit FROM src AS o GROUP BY k0),
m0 AS (SELECT k0, MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.5 * (n - 1)) - CAST((0.5 * (n - 1)) AS INTEGER)) AS lead_time_p50_s, MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.9 * (n - 1)) - CAST((0.9 * (n - 1)) AS INTEGER)) AS lead_time_p90_s, MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.95 * (n - 1)) - CAST((0.95 * (n - 1)) AS INTEGER)) AS lead_time_p95_s FROM (SELECT w.k0 AS k0, w.v AS v, w.rn AS rn, c.n_lead_time AS n FROM (SELECT k0, v, ROW_NUMBER() OVER (PARTITION BY k0 ORDER BY v) AS rn FROM (SELECT created_day AS k0, lead_time_s AS v FROM src AS o WHERE lead_time_s IS NOT NULL)) AS w JOIN agg AS c ON w.k0 IS c.k0) WHERE rn IN (CAST((0.5 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1, CAST((0.9 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1, CAST((0.95 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1) GROUP BY k0),
m1 AS (SELECT k0, MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.5 * (n - 1)) - CAST((0.5 * (n - 1)) AS INTEGER)) AS time_to_ship_p50_s, MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.9 * (n - 1)) - CAST((0.9 * (n - 1)) AS INTEGER)) AS time_to_ship_p90_s, MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.95 * (n - 1)) - CAST((0.95 * (n - 1)) AS INTEGER)) AS time_to_ship_p95_s FROM (SELECT w.k0 AS k0, w.v AS v, w.rn AS rn, c.n_time_to_ship AS n FROM (SELECT k0, v, ROW_NUMBER() OVER (PARTITION BY k0 ORDER BY v) AS rn FROM (SELECT created_day AS k0, time_to_ship_s AS v FROM src AS o WHERE time_to_ship_s IS NOT NULL)) AS w JOIN agg AS c ON w.k0 IS c.k0) WHERE rn IN (CAST((0.5 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1, CAST((0.9 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1, CAST((0.95 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1) GROUP BY k0),
m2 AS (SELECT k0, MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.5 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.5 * (n - 1)) - CAST((0.5 * (n - 1)) AS INTEGER)) AS time_in_transit_p50_s, MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.9 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.9 * (n - 1)) - CAST((0.9 * (n - 1)) AS INTEGER)) AS time_in_transit_p90_s, MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END) + (MAX(CASE WHEN rn = (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1 THEN v END) - MAX(CASE WHEN rn = CAST((0.95 * (n - 1)) AS INTEGER) + 1 THEN v END)) * MAX((0.95 * (n - 1)) - CAST((0.95 * (n - 1)) AS INTEGER)) AS time_in_transit_p95_s FROM (SELECT w.k0 AS k0, w.v AS v, w.rn AS rn, c.n_time_in_transit AS n FROM (SELECT k0, v, ROW_NUMBER() OVER (PARTITION BY k0 ORDER BY v) AS rn FROM (SELECT created_day AS k0, time_in_transit_s AS v FROM src AS o WHERE time_in_transit_s IS NOT NULL)) AS w JOIN agg AS c ON w.k0 IS c.k0) WHERE rn IN (CAST((0.5 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.5 * (n - 1)) > CAST((0.5 * (n - 1)) AS INTEGER) THEN CAST((0.5 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.5 * (n - 1)) AS INTEGER) END) + 1, CAST((0.9 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.9 * (n - 1)) > CAST((0.9 * (n - 1)) AS INTEGER) THEN CAST((0.9 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.9 * (n - 1)) AS INTEGER) END) + 1, CAST((0.95 * (n - 1)) AS INTEGER) + 1, (CASE WHEN (0.95 * (n - 1)) > CAST((0.95 * (n - 1)) AS INTEGER) THEN CAST((0.95 * (n - 1)) AS INTEGER) + 1 ELSE CAST((0.95 * (n - 1)) AS INTEGER) END) + 1) GROUP BY k0)
SELECT agg.day, agg.orders, agg.on_track, agg.at_risk, agg.breached, agg.met, agg.missed, agg.cancelled, agg.lost, agg.decided, agg.on_time_rate, m0.lead_time_p50_s, m0.lead_time_p90_s, m0.lead_time_p95_s, m1.time_to_ship_p50_s, m1.time_to_ship_p90_s, m1.time_to_ship_p95_s, m2.time_in_transit_p50_s, m2.time_in_transit_p90_s, m2.time_in_transit_p95_s
FROM agg LEFT JOIN m0 ON m0.k0 IS agg.k0 LEFT JOIN m1 ON m1.k0 IS agg.k0 LEFT JOIN m2 ON m2.k0 IS agg.k0
ORDER BY agg.k0
;

"""``report`` over N synthetic orders on SQLite (the ``report`` phase of ``bench_ingest.py``).

Rows are generated inside SQLite by a recursive CTE with the same shape and
distributions as ``bench_report.py``'s PostgreSQL load, after the migrations;
``build_report`` is timed twice (best kept) and ``sla-pipeline report`` once,
end to end in a fresh process.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AS_OF = datetime(2024, 1, 31, tzinfo=UTC)
#: The target for SQLite: 1M orders in under 10 s (scaled to the orders loaded).
TARGET_S_PER_MILLION = 10.0


def _ts(expr: str) -> str:
    # a Julian day as the pipeline stores a time on SQLite: integer microseconds since
    # 1970 UTC (whole seconds here)
    return f"CAST(({expr} - 2440587.5) * 86400 AS INTEGER) * 1000000"


LOAD_SQL = f"""
WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?),
r AS (
  SELECT i, 2460310.5 + (abs(random()) % 1000000000) / 1e9 * 32 AS c,
    (abs(random()) % 1000000) / 1e6 AS r1, (abs(random()) % 1000000) / 1e6 AS r2,
    (abs(random()) % 1000000) / 1e6 AS r3, (abs(random()) % 1000000) / 1e6 AS r4
  FROM g),
x AS (
  SELECT i, c, r4,
    CASE WHEN r1 >= 0.08 THEN c + (1 + r2 * 60) / 24.0 END AS shipped,
    CASE WHEN r1 >= 0.25 THEN c + (12 + r2 * 60 + r3 * 130) / 24.0 END AS delivered,
    CASE WHEN r1 >= 0.2 AND r1 < 0.25 THEN c + (80 + r3 * 50) / 24.0 END AS lost,
    CASE WHEN r1 < 0.04 THEN c + 3 / 24.0 END AS cancelled
  FROM r)
INSERT INTO sales (order_id, shipping_tier, carrier, destination_region, created_at,
  promised_delivery_at, awaiting_creation, status, status_rank, status_at, status_event_id,
  shipped_at, out_for_delivery_at, first_failed_at, delivered_at, lost_at, cancelled_at,
  failed_attempts, event_count, illegal_transitions, updated_at)
SELECT 'b-' || i,
  CASE i % 4 WHEN 0 THEN 'economy' WHEN 1 THEN 'standard' WHEN 2 THEN 'express'
    ELSE 'same_day' END,
  CASE (i / 4) % 4 WHEN 0 THEN 'dhl' WHEN 1 THEN 'ups' WHEN 2 THEN 'fedex' ELSE 'gls' END,
  CASE (i / 16) % 5 WHEN 0 THEN 'EU-West' WHEN 1 THEN 'EU-East' WHEN 2 THEN 'US'
    WHEN 3 THEN 'APAC' ELSE 'LATAM' END,
  {_ts("c")}, CASE WHEN i % 9 = 0 THEN {_ts("c + 4")} END, 0,
  CASE WHEN delivered IS NOT NULL THEN 'delivered' WHEN cancelled IS NOT NULL THEN 'cancelled'
    WHEN lost IS NOT NULL THEN 'lost' WHEN shipped IS NOT NULL THEN 'shipped'
    ELSE 'pending' END,
  0, {_ts("c")}, '00000000-0000-0000-0000-000000000000',
  {_ts("shipped")}, {_ts("delivered - 5 / 24.0")},
  CASE WHEN r4 < 0.1 AND delivered IS NOT NULL THEN {_ts("delivered - 4 / 24.0")} END,
  {_ts("delivered")}, {_ts("lost")}, {_ts("cancelled")}, 0, 1, 0, {_ts("c")}
FROM x
"""


def run(database: Path, orders: int) -> dict[str, Any]:
    """Load ``orders`` rows into a migrated SQLite file, then time the report on them."""
    from infra.bootstrap import migrated_engine
    from infra.reporting.queries import build_report
    from infra.settings import Settings

    url = f"sqlite:///{database}"
    engine = migrated_engine(Settings(database_url=url))
    started = time.perf_counter()
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(LOAD_SQL, (orders,))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    load_s = time.perf_counter() - started
    timings = []
    report = None
    for _ in range(2):
        started = time.perf_counter()
        report = build_report(engine, AS_OF, [], histogram=True)
        timings.append(time.perf_counter() - started)
    engine.dispose()
    assert report is not None
    command = Path(sys.executable).with_name("sla-pipeline")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(command), "report", "--as-of", AS_OF.isoformat(), "--out", f"{out}/r.txt"],
            check=True,
            env={**os.environ, "SLA_DATABASE_URL": url},
            capture_output=True,
        )
        cli_s = time.perf_counter() - started
    target = TARGET_S_PER_MILLION * orders / 1_000_000
    return {
        "report_orders": orders,
        "load_s": round(load_s, 2),
        "report_s": round(min(timings), 3),
        "report_runs_s": [round(t, 3) for t in timings],
        "cli_report_s": round(cli_s, 3),
        "target_s_scaled": round(target, 2),
        "within_target": min(timings) < target,
        "orders_reported": report.totals["orders"],
        "on_time_rate": report.totals["on_time_rate"],
    }

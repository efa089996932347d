"""Benchmark: ``sla-pipeline report`` figures over N synthetic orders on PostgreSQL.

    python benchmarks/bench_report.py [--orders 1000000] [--runs 3]

Uses ``$SLA_TEST_DATABASE_URL`` (a database in it is created and dropped) or
starts a throwaway local PostgreSQL (``devservices.LocalPostgres``). Rows
are generated inside PostgreSQL (``generate_series``), migrations run as in
production, then three reports are timed (see SCENARIOS); the headline figure
``report_s`` is plain ``sla-pipeline report``. The command itself is timed too,
end to end in a fresh process (start-up, queries, rendering, writing the file)
for each output format (``cli_s_by_format``). The target is under 5 s for 1M
orders for every scenario and format (``within_target_all``). The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.reporting.queries import build_report
from infra.reporting.render_html import HTML_BREAKDOWNS

AS_OF = datetime(2024, 1, 31, tzinfo=UTC)
TARGET_S = 5.0
#: ``report`` (totals, at-risk list, histogram), ``report --by carrier`` and what
#: ``--format html`` computes (by day, carrier, region and tier).
SCENARIOS: dict[str, list[tuple[str, ...]]] = {
    "default": [],
    "by_carrier": [("carrier",)],
    "html": list(HTML_BREAKDOWNS),
}
FORMATS = ("table", "json", "csv", "html")

LOAD_SQL = """
INSERT INTO sales (order_id, shipping_tier, carrier, destination_region, created_at,
  promised_delivery_at, awaiting_creation, status, status_rank, status_at, status_event_id,
  shipped_at, out_for_delivery_at, first_failed_at, delivered_at, lost_at, cancelled_at,
  failed_attempts, event_count, illegal_transitions, updated_at)
SELECT 'b-' || i,
  (ARRAY['economy', 'standard', 'express', 'same_day'])[1 + i % 4],
  (ARRAY['dhl', 'ups', 'fedex', 'gls'])[1 + (i / 4) % 4],
  (ARRAY['EU-West', 'EU-East', 'US', 'APAC', 'LATAM'])[1 + (i / 16) % 5],
  c, CASE WHEN i % 9 = 0 THEN c + INTERVAL '4 days' END, false,
  CASE WHEN delivered IS NOT NULL THEN 'delivered' WHEN cancelled IS NOT NULL THEN 'cancelled'
    WHEN lost IS NOT NULL THEN 'lost' WHEN shipped IS NOT NULL THEN 'shipped' ELSE 'pending' END,
  0, c, '00000000-0000-0000-0000-000000000000',
  shipped, delivered - INTERVAL '5 hours',
  CASE WHEN r4 < 0.1 AND delivered IS NOT NULL THEN delivered - INTERVAL '4 hours' END,
  delivered, lost, cancelled, 0, 1, 0, c
FROM (
  SELECT i, c, r4,
    CASE WHEN r1 >= 0.08 THEN c + (1 + r2 * 60) * INTERVAL '1 hour' END AS shipped,
    CASE WHEN r1 >= 0.25 THEN c + (12 + r2 * 60 + r3 * 130) * INTERVAL '1 hour' END AS delivered,
    CASE WHEN r1 >= 0.2 AND r1 < 0.25 THEN c + (80 + r3 * 50) * INTERVAL '1 hour' END AS lost,
    CASE WHEN r1 < 0.04 THEN c + INTERVAL '3 hours' END AS cancelled
  FROM (
    SELECT i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + random() * INTERVAL '32 days' AS c,
      random() AS r1, random() AS r2, random() AS r3, random() AS r4
    FROM generate_series(1, :orders) AS i
  ) AS g
) AS x
"""


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server: $SLA_TEST_DATABASE_URL or a local throwaway one."""
    if url := os.environ.get("SLA_TEST_DATABASE_URL"):
        yield url
        return
    from devservices import LocalPostgres

    with LocalPostgres() as pg:
        yield pg.url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on the server, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def time_cli(url: str, runs: int) -> dict[str, list[float]]:
    """Wall time of ``sla-pipeline report --format F --out FILE`` per format, per run."""
    command = Path(sys.executable).with_name("sla-pipeline")
    env = {**os.environ, "SLA_DATABASE_URL": url}
    timings: dict[str, list[float]] = {f: [] for f in FORMATS}
    with tempfile.TemporaryDirectory() as out:
        for run in range(max(1, runs)):
            for fmt in FORMATS:
                argv = [str(command), "report", "--as-of", AS_OF.isoformat(), "--format", fmt]
                started = time.perf_counter()
                subprocess.run([*argv, "--out", f"{out}/r.{fmt}"], check=True, env=env)
                timings[fmt].append(time.perf_counter() - started)
                print(
                    f"run {run + 1}: sla-pipeline report --format {fmt} in {timings[fmt][-1]:.2f} s"
                )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed report runs (best is kept)")
    args = parser.parse_args()
    with postgres_server() as server, fresh_database(server) as url:
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT setseed(0.42)"))
            conn.execute(sa.text(LOAD_SQL), {"orders": args.orders})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE sales"))
        load_s = time.perf_counter() - started
        print(f"loaded {args.orders} orders in {load_s:.1f} s")
        timings: dict[str, list[float]] = {name: [] for name in SCENARIOS}
        report = None
        for run in range(max(1, args.runs)):
            for name, breakdowns in SCENARIOS.items():
                started = time.perf_counter()
                report = build_report(engine, AS_OF, breakdowns, histogram=True)
                timings[name].append(time.perf_counter() - started)
                print(f"run {run + 1}: report {name} in {timings[name][-1]:.2f} s")
        engine.dispose()
        cli = {name: round(min(values), 3) for name, values in time_cli(url, args.runs).items()}
    assert report is not None
    best = {name: round(min(values), 3) for name, values in timings.items()}
    totals = report.totals
    print(
        f"orders={totals['orders']} on_time_rate={totals['on_time_rate']:.4f} "
        f"lead_time_p50_h={(totals['lead_time_p50_s'] or 0) / 3600:.1f} "
        f"breached={totals['breached']} at_risk={totals['at_risk']}"
    )
    result = {
        "benchmark": "report",
        "backend": "postgresql",
        "orders": args.orders,
        "load_s": round(load_s, 2),
        "report_s": best["default"],
        "report_s_by_scenario": best,
        "target_s": TARGET_S,
        "within_target": best["default"] < TARGET_S,
        "cli_s_by_format": cli,
        "within_target_all": all(v < TARGET_S for v in [*best.values(), *cli.values()]),
        "on_time_rate": totals["on_time_rate"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

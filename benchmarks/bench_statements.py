"""Where the worker's database time goes, per statement, and which plan fix holds.

    python benchmarks/bench_statements.py [--events 100000] [--variants base,analyze,...]

Starts its own throwaway PostgreSQL with ``pg_stat_statements`` preloaded
(stopped at the end), fills fresh topics on ``SLA_BENCH_KAFKA`` with the
faulted stream of ``bench_consumer.py``, then runs the real worker once per
variant, each on a fresh database:

- ``base``: fresh tables, as a new deployment.
- ``analyze``: ``ANALYZE order_history, sales`` once, as soon as the first
  batch is committed (what the worker could do itself after its first batches).
- ``custom_plans``: ``plan_cache_mode = force_custom_plan`` for the database (no
  generic plan of a prepared statement, costed on an empty table, is reused).
- ``no_seqscan``: ``enable_seqscan = off`` for the database (as statement shapes
  that cannot scan a whole table).

Per variant: events/s, backend CPU, the top statements by total execution time
(calls, mean ms, rows, buffers) and the per-table scans. The last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import pg_probe
import psycopg
import worker_phase

from devservices import LocalPostgres

VARIANTS = {
    "base": None,
    "analyze": None,
    "custom_plans": "SET plan_cache_mode = force_custom_plan",
    "no_seqscan": "SET enable_seqscan = off",
}
TOP_STATEMENTS = 10


class StatementsPostgres(LocalPostgres):
    """A throwaway server with ``pg_stat_statements`` loaded."""

    def _command(self) -> list[str]:
        return [
            *super()._command(),
            "--shared_preload_libraries=pg_stat_statements",
            "--pg_stat_statements.track_planning=on",
            "--track_io_timing=on",
        ]


def _child(*argv: str) -> dict[str, Any]:
    script = Path(__file__).with_name("bench_consumer.py")
    out = subprocess.run(
        [sys.executable, str(script), *argv], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def analyze_after_first_batch(url: str, done: threading.Event) -> None:
    """ANALYZE both tables once the first batch is in (``max(id)`` reads the primary key only)."""
    with psycopg.connect(pg_probe.libpq_url(url), autocommit=True) as conn:
        while not done.is_set():
            try:
                top = conn.execute("SELECT max(id) FROM order_history").fetchone()
            except psycopg.errors.UndefinedTable:
                top = None
            if top and top[0]:
                conn.execute("ANALYZE order_history, sales")
                return
            done.wait(0.05)


def statements(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(pg_probe.libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, calls, total_exec_time, total_plan_time, rows,"
            " shared_blks_hit + shared_blks_read + local_blks_hit + local_blks_read"
            " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
            " WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT %s",
            (TOP_STATEMENTS,),
        ).fetchall()
    return [
        {
            "query": " ".join(q.split())[:160],
            "calls": calls,
            "total_ms": round(total, 1),
            "plan_ms": round(plan, 1),
            "mean_ms": round(total / max(calls, 1), 2),
            "rows": n,
            "blocks": blocks,
        }
        for q, calls, total, plan, n, blocks in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    bootstrap = os.environ["SLA_BENCH_KAFKA"]
    run_id = uuid.uuid4().hex[:8]
    topics = ",".join(f"stmt-{t}-{run_id}" for t in ("created", "changed", "dlq"))
    sent = int(_child("fill", "--bootstrap", bootstrap, "--topics", topics,
                      "--events", str(args.events))["sent"])  # fmt: skip
    results: dict[str, Any] = {}
    with ExitStack() as cleanup:
        cleanup.callback(worker_phase.delete_topics, bootstrap, topics.split(","))
        server = cleanup.enter_context(StatementsPostgres())
        for variant in args.variants.split(","):
            database = f"stmt_{variant}_{run_id}"
            with psycopg.connect(pg_probe.libpq_url(server.url), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{database}"')
                if VARIANTS[variant]:
                    admin.execute(f'ALTER DATABASE "{database}" {VARIANTS[variant]}')
            url = server.url_for(database)
            with psycopg.connect(pg_probe.libpq_url(url), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")
            done = threading.Event()
            analyzer = threading.Thread(target=analyze_after_first_batch, args=(url, done))
            if variant == "analyze":
                analyzer.start()
            with pg_probe.BackendCpu(server.url, database) as backends:
                figures = _child("consume", "--bootstrap", bootstrap, "--database-url", url,
                                 "--topics", topics, "--batch-size", str(args.batch_size),
                                 "--expected", str(sent))  # fmt: skip
                time.sleep(0.3)
            done.set()
            if analyzer.is_alive():
                analyzer.join()
            time.sleep(1.0)
            results[variant] = {
                "events_per_s": figures["events_per_s"],
                "python_cpu_s": figures["python_cpu_s"],
                "pg_cpu_s": round(backends.client_s, 2),
                "tables": {
                    name: scans
                    for name, scans in pg_probe.table_scans(url).items()
                    if name in ("order_history", "sales", "consumer_offsets")
                },
                "statements": statements(url),
            }
            print(f"{variant}: {json.dumps(results[variant])}", file=sys.stderr)
    print(json.dumps({"benchmark": "statements", "events": sent, "variants": results}))


if __name__ == "__main__":
    main()

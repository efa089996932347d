"""Consumer throughput: the worker next to a hand-written sink and a naive baseline.

    python benchmarks/bench_consumer.py [--events 200000] [--runs 2] [--batch-size 5000]

Uses ``SLA_BENCH_KAFKA`` / ``SLA_BENCH_DATABASE_URL`` when set, otherwise starts
a throwaway broker and PostgreSQL on 127.0.0.1 (``devservices``); the server
must run on this machine (its backends' CPU is read from /proc). ``fill``
publishes a faulted simulation (reordered, duplicated, late and orphaned
events: ``worker_phase.FAULT_RATES``) once; then the real worker (``consume``)
and the hand-written sink (``plain_sink``) alternate, ``--runs`` times each,
every run on a fresh database and consumer group; ``naive`` applies a sample
one event per ORM add + commit. Each phase runs in a child process, so RSS and
Python CPU are its own. Per run: events/s, Python CPU-s and PostgreSQL backend
CPU-s per 100k events, and for the worker the sequential and index scans per
table (``pg_stat_user_tables``) -- full scans of ``order_history`` on fresh
tables are the unstable-plan regression to watch. The headline figures are the
best run of each; all runs are listed. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import worker_phase

PHASES = ["all", "fill", "consume", "plain", "naive"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("phase", nargs="?", default="all", choices=PHASES)
    parser.add_argument(
        "--events", type=int, default=200_000, help="approximate size of the stream (before faults)"
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each sink, alternated")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--naive-sample", type=int, default=3000)
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--bootstrap")
    parser.add_argument("--database-url")
    parser.add_argument("--topics")
    parser.add_argument("--expected", type=int, default=0)
    args = parser.parse_args()
    topics = (args.topics or "").split(",")
    result: dict[str, Any]
    if args.phase == "fill":
        orders = max(1, round(args.events / worker_phase.EVENTS_PER_ORDER))
        result = worker_phase.fill(args.bootstrap, topics, orders)
    elif args.phase in ("consume", "plain"):
        run = worker_phase.consume if args.phase == "consume" else worker_phase.plain
        result = run(args.bootstrap, args.database_url, topics, args.batch_size, args.expected)
    elif args.phase == "naive":
        result = worker_phase.naive(args.database_url, args.naive_sample)
    else:
        run_all(args)
        return
    print(json.dumps(result))


def _child(*argv: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_all(args: argparse.Namespace) -> None:
    import pg_probe
    from sqlalchemy import create_engine, make_url, text

    with ExitStack() as stack:
        bootstrap = os.environ.get("SLA_BENCH_KAFKA")
        base_url = os.environ.get("SLA_BENCH_DATABASE_URL")
        if not bootstrap:
            from devservices import LocalKafka

            bootstrap = stack.enter_context(LocalKafka(startup_timeout=180)).bootstrap
        if not base_url:
            from devservices import LocalPostgres

            base_url = stack.enter_context(LocalPostgres()).url
        run_id = uuid.uuid4().hex[:8]
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        databases: list[str] = []

        def fresh_database(name: str) -> tuple[str, str]:
            database = f"bench_{name}_{run_id}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            databases.append(database)
            url = make_url(base_url).set(database=database)
            return database, url.render_as_string(hide_password=False)

        topics = ",".join(f"bench-{t}-{run_id}" for t in ("created", "changed", "dlq"))
        t0 = time.perf_counter()
        stream = _child("fill", "--bootstrap", bootstrap, "--topics", topics,
                        "--events", str(args.events))  # fmt: skip
        sent = int(stream["sent"])
        print(f"filled {sent} messages in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        runs: dict[str, list[dict[str, Any]]] = {"consume": [], "plain": []}
        urls: dict[str, str] = {}
        try:
            for n in range(args.runs):
                for phase in ("consume", "plain"):
                    database, url = fresh_database(f"{phase}{n}")
                    urls[phase] = url
                    with pg_probe.BackendCpu(base_url, database) as backends:
                        figures = _child(
                            phase, "--bootstrap", bootstrap, "--database-url", url,
                            "--topics", topics, "--batch-size", str(args.batch_size),
                            "--expected", str(sent),
                        )  # fmt: skip
                        time.sleep(0.3)  # the backends' last readings before they exit
                    per_100k = 100_000 / max(figures["events"], 1)
                    figures["python_cpu_s_per_100k"] = round(figures["python_cpu_s"] * per_100k, 2)
                    figures["pg_cpu_s"] = round(backends.client_s, 2)
                    figures["pg_cpu_s_per_100k"] = round(backends.client_s * per_100k, 2)
                    figures["autovacuum_cpu_s"] = round(backends.autovacuum_s, 2)
                    if phase == "consume":
                        time.sleep(1.0)  # exited backends flush their table statistics
                        figures["tables"] = pg_probe.table_scans(url)
                    runs[phase].append(figures)
                    print(f"{phase} run {n + 1}: {json.dumps(figures)}", file=sys.stderr)
            mismatches = _status_mismatches(urls["consume"], urls["plain"])
            _, naive_url = fresh_database("naive")
            slow = _child(
                "naive", "--database-url", naive_url, "--naive-sample", str(args.naive_sample)
            )
        finally:
            if not args.keep_databases:
                with admin.connect() as conn:
                    for database in databases:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
            worker_phase.delete_topics(bootstrap, topics.split(","))
    print(json.dumps(summary(stream, runs, slow, mismatches)))


def summary(
    stream: dict[str, Any],
    runs: dict[str, list[dict[str, Any]]],
    slow: dict[str, Any],
    mismatches: int,
) -> dict[str, Any]:
    """Headline: the best worker run's figures, the best plain run, ratios, every run."""
    best = max(runs["consume"], key=lambda r: r["events_per_s"])
    plain = max(runs["plain"], key=lambda r: r["events_per_s"])
    tables = best["tables"]
    return {
        **{k: v for k, v in best.items() if k != "tables"},
        **slow,
        "speedup": round(best["events_per_s"] / slow["naive_events_per_s"], 1),
        "plain_events_per_s": plain["events_per_s"],
        "ratio_to_plain": round(best["events_per_s"] / plain["events_per_s"], 2),
        "plain_python_cpu_s_per_100k": plain["python_cpu_s_per_100k"],
        "plain_pg_cpu_s_per_100k": plain["pg_cpu_s_per_100k"],
        "worker_peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs["consume"]),
        "order_history_seq_tup_read": [
            r["tables"]["order_history"]["seq_tup_read"] for r in runs["consume"]
        ],
        "tables": tables,
        "final_status_mismatches": mismatches,
        "stream": stream,
        "worker_runs": runs["consume"],
        "plain_runs": runs["plain"],
    }


def _status_mismatches(worker_url: str, plain_url: str) -> int:
    """Orders whose final status differs between the worker's ``sales`` and the plain sink."""
    import plain_sink
    import psycopg

    with psycopg.connect(worker_url.replace("postgresql+psycopg://", "postgresql://", 1)) as c:
        worker: dict[str, str] = dict(c.execute("SELECT order_id, status FROM sales").fetchall())
    plain = plain_sink.final_statuses(plain_url)
    return sum(worker.get(order) != plain.get(order) for order in worker.keys() | plain.keys())


if __name__ == "__main__":
    main()

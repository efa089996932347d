"""SQLite, the embedded default: ``ingest`` next to a plain sqlite3 sink, and ``report``.

    python benchmarks/bench_ingest.py [--events 160000] [--runs 2] [--report-orders 200000]

Writes a faulted simulation (reordered, duplicated, late, orphaned events) as
one JSONL file, then alternates, ``--runs`` times each on a fresh database file:
``ingest`` -- the code path of ``sla-pipeline ingest`` (file reader, decoding,
``ingest_events`` in transactions of ``--batch-size``, by default the command's
own, 20,000) -- and a plain sqlite3 sink of the same lines (``json.loads``,
``executemany`` INSERT OR IGNORE into a history table, an event-time-guarded
upsert of each order's latest status, WAL, one transaction per ``--batch-size``,
by default 5,000: it measured the same at 20,000). Then ``report`` (``build_report``) over
``--report-orders`` synthetic orders in SQLite. Each phase runs in a child
process. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import report_sqlite
import worker_phase

from consumer.embedded import INGEST_BATCH_SIZE

PLAIN_BATCH_SIZE = 5000

SCHEMA = """
CREATE TABLE plain_history (event_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
  event_type TEXT NOT NULL, status TEXT NOT NULL, occurred_at TEXT NOT NULL,
  payload TEXT NOT NULL);
CREATE TABLE plain_status (order_id TEXT PRIMARY KEY, status TEXT NOT NULL,
  status_rank INTEGER NOT NULL, status_at TEXT NOT NULL, event_id TEXT NOT NULL);
"""
INSERT_HISTORY = (
    "INSERT INTO plain_history VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)
UPSERT_STATUS = (
    "INSERT INTO plain_status AS s VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
    " status = excluded.status, status_rank = excluded.status_rank,"
    " status_at = excluded.status_at, event_id = excluded.event_id"
    " WHERE (excluded.status_at, excluded.status_rank, excluded.event_id)"
    " > (s.status_at, s.status_rank, s.event_id)"
)


def write_stream(path: Path, events: int) -> dict[str, Any]:
    from producer.faults import FaultConfig
    from producer.files import write_jsonl
    from producer.publish import planned_messages
    from producer.simulation import SimulationConfig

    orders = max(1, round(events / worker_phase.EVENTS_PER_ORDER))
    messages = planned_messages(
        SimulationConfig(orders=orders, seed=1), FaultConfig.from_rates(worker_phase.FAULT_RATES)
    )
    return {"lines": write_jsonl(messages, path).written}


def ingest(path: Path, database: Path, batch_size: int) -> dict[str, Any]:
    """What ``sla-pipeline ingest FILE`` does, without the progress display."""
    from consumer.embedded import from_records, ingest_events
    from consumer.tuning import interpreter_tuned
    from infra import bootstrap
    from infra.settings import Settings
    from producer.file_reader import read_event_files

    settings = Settings(database_url=f"sqlite:///{database}")
    engine = bootstrap.migrated_engine(settings)
    cpu = worker_phase.cpu_s()
    started = time.perf_counter()
    with interpreter_tuned():  # as the command runs it
        report = ingest_events(
            from_records(read_event_files([path])),
            bootstrap.unit_of_work_factory(engine),
            batch_size=batch_size,
        )
    engine.dispose()  # closing checkpoints what the last commits left in the WAL
    elapsed = time.perf_counter() - started
    return _figures(report.rows, elapsed, worker_phase.cpu_s() - cpu)


def plain(path: Path, database: Path, batch_size: int) -> dict[str, Any]:
    """The hand-written sqlite3 sink over the same lines."""
    from plain_sink import PENDING_RANK, RANKS

    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    cpu = worker_phase.cpu_s()
    started = time.perf_counter()
    rows = 0
    with path.open("rb") as lines:
        batch: list[bytes] = []
        for line in lines:
            batch.append(line.rstrip(b"\n"))
            if len(batch) >= batch_size:
                _plain_batch(conn, batch, RANKS, PENDING_RANK)
                rows += len(batch)
                batch = []
        if batch:
            _plain_batch(conn, batch, RANKS, PENDING_RANK)
            rows += len(batch)
    conn.close()
    elapsed = time.perf_counter() - started
    return _figures(rows, elapsed, worker_phase.cpu_s() - cpu)


def _plain_batch(
    conn: sqlite3.Connection, batch: list[bytes], ranks: dict[str, int], pending: int
) -> None:
    history = []
    latest: dict[str, tuple[str, int, str, str]] = {}
    for value in batch:
        event = json.loads(value)
        status = event.get("status", "pending")
        at, eid, order = event["occurred_at"], event["event_id"], event["order_id"]
        history.append((eid, order, event["event_type"], status, at, value.decode()))
        key = (at, ranks.get(status, pending), status, eid)
        best = latest.get(order)
        if best is None or (key[0], key[1], key[3]) > (best[0], best[1], best[3]):
            latest[order] = key
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT_HISTORY, history)
    conn.executemany(UPSERT_STATUS, [(o, s, r, a, e) for o, (a, r, s, e) in latest.items()])
    conn.execute("COMMIT")


def _figures(rows: int, elapsed: float, cpu: float) -> dict[str, Any]:
    return {
        "events": rows,
        "seconds": round(elapsed, 2),
        "events_per_s": round(rows / elapsed),
        "python_cpu_s": round(cpu, 2),
        "peak_rss_mb": round(worker_phase.peak_rss_mb(), 1),
    }


def _child(*argv: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    phases = ["all", "write", "ingest", "plain", "report"]
    parser.add_argument("phase", nargs="?", default="all", choices=phases)
    parser.add_argument("--events", type=int, default=160_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="events per transaction of both sinks")
    parser.add_argument("--report-orders", type=int, default=200_000)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--database", type=Path)
    args = parser.parse_args()
    if args.phase == "write":
        result = write_stream(args.path, args.events)
    elif args.phase == "ingest":
        result = ingest(args.path, args.database, args.batch_size or INGEST_BATCH_SIZE)
    elif args.phase == "plain":
        result = plain(args.path, args.database, args.batch_size or PLAIN_BATCH_SIZE)
    elif args.phase == "report":
        result = report_sqlite.run(args.database, args.report_orders)
    else:
        run_all(args)
        return
    print(json.dumps(result))


def run_all(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        stream = Path(tmp) / "events.jsonl"
        written = _child("write", "--path", str(stream), "--events", str(args.events))
        print(f"wrote {written['lines']} lines", file=sys.stderr)
        runs: dict[str, list[dict[str, Any]]] = {"ingest": [], "plain": []}
        for n in range(args.runs):
            for phase in ("ingest", "plain"):
                database = Path(tmp) / f"{phase}{n}.db"
                sized = ["--batch-size", str(args.batch_size)] if args.batch_size else []
                figures = _child(phase, "--path", str(stream), "--database", str(database),
                                 *sized)  # fmt: skip
                runs[phase].append(figures)
                print(f"{phase} run {n + 1}: {json.dumps(figures)}", file=sys.stderr)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)
        report = _child("report", "--database", str(Path(tmp) / "report.db"),
                        "--report-orders", str(args.report_orders))  # fmt: skip
    best = max(runs["ingest"], key=lambda r: r["events_per_s"])
    plain_best = max(runs["plain"], key=lambda r: r["events_per_s"])
    per_100k = 100_000 / max(best["events"], 1)
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "backend": "sqlite",
                "events_per_s": best["events_per_s"],
                "plain_events_per_s": plain_best["events_per_s"],
                "ratio": round(best["events_per_s"] / plain_best["events_per_s"], 2),
                "python_cpu_s_per_100k": round(best["python_cpu_s"] * per_100k, 2),
                "plain_python_cpu_s_per_100k": round(
                    plain_best["python_cpu_s"] * 100_000 / max(plain_best["events"], 1), 2
                ),
                "report": report,
                "ingest_runs": runs["ingest"],
                "plain_runs": runs["plain"],
            }
        )
    )


if __name__ == "__main__":
    main()

"""What a benchmark run cost the PostgreSQL server: backend CPU and table scans.

Backend CPU is read from ``/proc/<pid>/stat`` (utime + stime) of every backend
connected to the run's database, found through ``pg_stat_activity`` by a sampler
thread while the run goes on; a backend's last reading before it exits is kept,
so up to one sampling interval per backend at its very end is missed (the
server must run on this machine). Autovacuum workers on the database are summed
apart: their cost comes from the run, but when is up to the server.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as psycopg's own connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class BackendCpu:
    """Sample the CPU of the backends of one database while a run goes on (a context manager)."""

    def __init__(self, url: str, database: str, interval_s: float = 0.1) -> None:
        self._url = libpq_url(url)
        self._database = database
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.client: dict[int, float] = {}
        self.autovacuum: dict[int, float] = {}

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            while True:
                rows = conn.execute(
                    "SELECT pid, backend_type FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self._database,),
                ).fetchall()
                for pid, backend_type in rows:
                    cpu = process_cpu_s(pid)
                    if cpu is None:
                        continue
                    target = self.autovacuum if "autovacuum" in backend_type else self.client
                    target[pid] = cpu
                if self._stop.wait(self._interval_s):
                    return

    @property
    def client_s(self) -> float:
        return sum(self.client.values())

    @property
    def autovacuum_s(self) -> float:
        return sum(self.autovacuum.values())


def table_scans(url: str) -> dict[str, dict[str, Any]]:
    """Per table of the database: sequential scans, rows they read, index scans, analysed."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), n_live_tup,"
            " autoanalyze_count + analyze_count FROM pg_stat_user_tables"
            " WHERE relname <> 'alembic_version' ORDER BY relname"
        ).fetchall()
    return {
        name: {
            "seq_scan": seq,
            "seq_tup_read": read,
            "idx_scan": idx,
            "live_rows": live,
            "analyzed": analyzed,
        }
        for name, seq, read, idx, live, analyzed in rows
    }

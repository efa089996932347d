"""SQLite: the backend's expressions and its apply-path repository.

Rows reach the database as a multi-row ``VALUES`` list; ids as an expanding ``IN``
list, kept well under SQLite's limit of bound parameters. SQLite has no
data-modifying CTE, so re-judging is an update of the changed flags followed by
a recount. Times are stored as integer microseconds since 1970 UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    URL,
    ColumnElement,
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import sqlite

from infra.db.backend import SqlBackend, Upsert
from infra.db.engine import SQLITE_BUSY_TIMEOUT_MS
from infra.db.repository import SqlOrderRepository
from infra.db.sqlite_repository import SqliteOrderRepository

#: page cache per connection, in KiB (filled only as pages are read)
CACHE_KIB = 65536
#: page size of a database this creates (an existing one keeps its own): a history
#: row with its payload is most of a kilobyte, and inserting 163k of them in
#: transactions of 20,000 took 1.7-1.8 s on 16 kB pages against 2.6 s on the default
#: 4 kB (fewer page splits and WAL frames); the 1M-order report took the same time
PAGE_BYTES = 16384


class SqliteBackend(SqlBackend):
    ids_per_statement: ClassVar[int | None] = 5000
    report_options: ClassVar[dict[str, Any]] = {}  # one writer at a time: a snapshot anyway

    def bounded_connect_args(self, timeout_s: float) -> dict[str, Any]:
        return {"timeout": timeout_s}  # how long a statement waits for a lock

    def make_engine(self, url: URL, **kwargs: Any) -> Engine:
        engine = create_engine(url, **kwargs)
        in_memory = url.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # take transaction control from the driver so BEGIN is ours (see _on_begin)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # SQLite's default page cache (2 MB) thrashes once the history's indexes
            # outgrow it: every random insert re-reads pages (history insert measured
            # 33 -> 14 us a row at 80k rows with 64 MB)
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cursor.execute(f"PRAGMA page_size={PAGE_BYTES}")  # before WAL: fixed after
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def insert(self, table: Table) -> Upsert:
        return sqlite.insert(table)

    def insert_rows(self, table: Table) -> Upsert:
        return self.insert(table)

    def binary_text(self, column: Any) -> Any:
        return column  # SQLite compares text byte-wise already

    def among(self, column: Any, name: str) -> ColumnElement[bool]:
        ids: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
        return ids

    def order_repository(
        self, connection: Connection, clock: Callable[[], datetime] | None = None
    ) -> SqlOrderRepository:
        return SqliteOrderRepository(connection, self, clock)

    def epoch_us(self, column: str) -> str:
        return column  # stored as integer microseconds (models.UtcDateTime)

    def now_us(self) -> str:
        return "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"

    def timestamp(self, micros: str) -> str:
        return micros  # the storage of a time: a UtcDateTime column reads it back

    def day(self, column: str) -> str:
        return f"date({column} / 1000000, 'unixepoch')"

    def reached(self, column: str, as_of_us: str, value: bool) -> str:
        return f"CASE WHEN {column} <= {as_of_us} THEN {column if value else '1'} END"

    def fence(self) -> str:
        # An OFFSET keeps SQLite from flattening the CTE into its users, which would
        # evaluate the deadline expression once per use (measured: fill 2.5 -> 1.6 s
        # over 200k orders).
        return "LIMIT -1 OFFSET 0"

    def percentile_select(
        self,
        columns: Sequence[str],
        keys: Sequence[str],
        source: str,
        group_by: str,
        metrics: Sequence[str],
        percentiles: Sequence[tuple[str, float]],
    ) -> str:
        # PostgreSQL's percentile_cont written with ROW_NUMBER/COUNT windows, in the
        # same floating-point operations, so both backends return the same numbers.
        # Each metric is ranked on its own narrow rows (its non-NULL values and the
        # keys) and only the rows at the interpolation ranks are aggregated: windows
        # over the whole wide row cost most of a report. ``group_by`` is implied by
        # ``keys`` (groups are joined back on them, ``IS`` matching NULL keys).
        key_names = [f"k{i}" for i in range(len(keys))]
        keyed = "".join(f"{key} AS {name}, " for key, name in zip(keys, key_names, strict=True))
        partition = f"PARTITION BY {', '.join(key_names)}" if keys else ""
        grouped = f" GROUP BY {', '.join(key_names)}" if keys else ""
        # the source (a view) is evaluated once for all its uses
        ctes = [f"src AS MATERIALIZED ({source})"]
        # each metric's count of values comes with the counts: one pass over the rows
        # instead of one more (a grouped one: a sort) per metric
        counted = "".join(f", COUNT({metric}_s) AS n_{metric}" for metric in metrics)
        ctes.append(f"agg AS (SELECT {keyed}{', '.join(columns)}{counted} FROM src AS o{grouped})")
        joins, picked = [], []
        for n, metric in enumerate(metrics):
            ranks = ", ".join(
                f"{_position(fraction)[0]} + 1, {_position(fraction)[1]} + 1"
                for _, fraction in percentiles
            )
            # n joined from the grouped counts on the keys: a COUNT window over a
            # partition buffers the whole partition (measured 25% of each metric's ranking)
            narrow = f"SELECT {keyed}{metric}_s AS v FROM src AS o WHERE {metric}_s IS NOT NULL"
            keys_of = "".join(f"w.{k} AS {k}, " for k in key_names)
            same = " AND ".join(f"w.{k} IS c.{k}" for k in key_names) or "1"
            ranked = (
                f"SELECT {keys_of}w.v AS v, w.rn AS rn, c.n_{metric} AS n FROM (SELECT"
                f" {''.join(f'{k}, ' for k in key_names)}v, ROW_NUMBER() OVER"
                f" ({partition} ORDER BY v) AS rn FROM ({narrow})) AS w JOIN agg AS c ON {same}"
            )
            values = ", ".join(
                f"{_interpolated(fraction)} AS {metric}_{label}_s"
                for label, fraction in percentiles
            )
            ctes.append(
                f"m{n} AS (SELECT {''.join(f'{k}, ' for k in key_names)}{values}"
                f" FROM ({ranked}) WHERE rn IN ({ranks}){grouped})"
            )
            on = " AND ".join(f"m{n}.{k} IS agg.{k}" for k in key_names) or "1"
            joins.append(f"LEFT JOIN m{n} ON {on}")
            picked += [f"m{n}.{metric}_{label}_s" for label, _ in percentiles]
        named = [f"agg.{_name(column)}" for column in columns]
        order = f"ORDER BY {', '.join(f'agg.{k}' for k in key_names)}" if keys else ""
        body = ",\n".join(ctes)
        return (
            f"WITH {body}\nSELECT {', '.join(named + picked)}\nFROM agg {' '.join(joins)}\n{order}"
        )


def _name(column: str) -> str:
    """The output name of a SELECT item written ``expression AS name``."""
    return column.rsplit(" AS ", 1)[1]


def _position(fraction: float) -> tuple[str, str]:
    """The 0-based ranks interpolated between for ``fraction`` of ``n`` values."""
    pos = f"({fraction!r} * (n - 1))"
    lo = f"CAST({pos} AS INTEGER)"
    return lo, f"(CASE WHEN {pos} > {lo} THEN {lo} + 1 ELSE {lo} END)"


def _interpolated(fraction: float) -> str:
    # position = fraction * (n - 1); value = v[lo] + (v[hi] - v[lo]) * (position - lo)
    lo, hi = _position(fraction)
    pos = f"({fraction!r} * (n - 1))"
    low_value = f"MAX(CASE WHEN rn = {lo} + 1 THEN v END)"
    high_value = f"MAX(CASE WHEN rn = {hi} + 1 THEN v END)"
    return f"{low_value} + ({high_value} - {low_value}) * MAX({pos} - {lo})"

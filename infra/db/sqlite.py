"""SQLite: the backend's expressions and its apply-path repository.

Rows reach the database as a multi-row ``VALUES`` list; ids as an expanding ``IN``
list, kept well under SQLite's limit of bound parameters. SQLite has no
data-modifying CTE, so re-judging is an update of the changed flags followed by
a recount. Times are stored as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    URL,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import sqlite

from infra.db import judge_sql
from infra.db.apply_sql import row_columns
from infra.db.backend import SqlBackend, Upsert
from infra.db.engine import SQLITE_BUSY_TIMEOUT_MS
from infra.db.repository import SqlOrderRepository


class SqliteBackend(SqlBackend):
    ids_per_statement: ClassVar[int | None] = 5000
    report_options: ClassVar[dict[str, Any]] = {}  # one writer at a time: a snapshot anyway

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
        # Whole seconds from the first 19 characters: strftime('%s') of the full text
        # rounds the fraction to the millisecond (.9995 would read a second late);
        # julianday() floats are not exact either.
        return (
            f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({column} || '000000', 21, 6) AS INTEGER))"
        )

    def now_us(self) -> str:
        return "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"

    def timestamp(self, micros: str) -> str:
        # text in SQLAlchemy's format, so a UtcDateTime column reads it back
        return (
            f"(datetime({micros} / 1000000, 'unixepoch') || '.'"
            f" || substr('000000' || ({micros} % 1000000), -6))"
        )

    def day(self, column: str) -> str:
        return f"substr({column}, 1, 10)"

    def reached(self, column: str, as_of_us: str, value: bool) -> str:
        result = self.epoch_us(column) if value else "1"
        return f"CASE WHEN {self.epoch_us(column)} <= {as_of_us} THEN {result} END"

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
        # same floating-point operations, so both backends return the same numbers
        partition = f"PARTITION BY {', '.join(keys)}" if keys else ""
        windows = []
        every = list(columns)
        for metric in metrics:
            null_split = (
                f"{partition}, {metric}_s IS NULL" if keys else f"PARTITION BY {metric}_s IS NULL"
            )
            windows.append(
                f"ROW_NUMBER() OVER ({null_split} ORDER BY {metric}_s) AS {metric}_rn, "
                f"COUNT({metric}_s) OVER ({partition}) AS {metric}_n"
            )
            every += [
                f"{_percentile(metric, fraction)} AS {metric}_{label}_s"
                for label, fraction in percentiles
            ]
        ranked = f"SELECT o.*, {', '.join(windows)} FROM ({source}) AS o"
        return f"WITH ranked AS ({ranked})\nSELECT {', '.join(every)}\nFROM ranked\n{group_by}"


def _percentile(metric: str, fraction: float) -> str:
    # position = fraction * (n - 1); value = v[lo] + (v[hi] - v[lo]) * (position - lo)
    n, rn, v = f"{metric}_n", f"{metric}_rn", f"{metric}_s"
    pos = f"({fraction!r} * ({n} - 1))"
    lo = f"CAST({pos} AS INTEGER)"
    hi = f"(CASE WHEN {pos} > {lo} THEN {lo} + 1 ELSE {lo} END)"
    low_value = f"MAX(CASE WHEN {rn} = {lo} + 1 THEN {v} END)"
    high_value = f"MAX(CASE WHEN {rn} = {hi} + 1 THEN {v} END)"
    return f"{low_value} + ({high_value} - {low_value}) * MAX({pos} - {lo})"


class SqliteOrderRepository(SqlOrderRepository):
    """Writes ``VALUES`` lists; re-judges, then recounts, chunk by chunk."""

    def rejudge(self, order_ids: Collection[str]) -> int:
        illegal = 0
        changed = judge_sql.rejudge_history(self._backend)
        recount = judge_sql.recount_illegal(self._backend)
        for chunk in self._chunks(order_ids):
            result = self._conn.execute(changed, {"order_ids": list(chunk)})
            illegal += sum(legal is not None and not legal for _, legal in result.all())
            # every order: counts added on arrival may be off for a re-judged order
            self._conn.execute(recount, {"order_ids": list(chunk)})
        return illegal

    def _write(
        self, table: Table, values: Sequence[tuple[Any, ...]]
    ) -> CursorResult[*tuple[Any, ...]]:
        names = row_columns(table)
        rows = [dict(zip(names, v, strict=True)) for v in values]
        return self._conn.execute(self._statement(table), rows)

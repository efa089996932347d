"""PostgreSQL: the backend's expressions and its apply-path repository.

Rows reach the server by binary ``COPY`` into the session's staging tables
(:mod:`infra.db.copy_staging`), and the merge statements read from there: short
text the server plans once, and no per-value parameter formatting in Python.
Ids travel as one array parameter, so no statement needs an ``IN`` list.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar

import psycopg
from sqlalchemy import (
    URL,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Result,
    Table,
    any_,
    bindparam,
    cast,
    collate,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql

from infra.db import copy_staging, judge_sql, statistics
from infra.db.apply_sql import row_columns
from infra.db.backend import SqlBackend, Upsert, percentile_cont_columns
from infra.db.engine import IDLE_IN_TRANSACTION_TIMEOUT_MS, LOCK_TIMEOUT_MS
from infra.db.repository import SqlOrderRepository
from infra.db.standby import StandbyStatus, read_standby_status
from infra.db.stuck import end_stuck_copies


class PostgresBackend(SqlBackend):
    ids_per_statement: ClassVar[int | None] = None
    report_options: ClassVar[dict[str, Any]] = {"isolation_level": "REPEATABLE READ"}
    grouping_sets: ClassVar[bool] = True
    shares_snapshots: ClassVar[bool] = True

    def bounded_connect_args(self, timeout_s: float) -> dict[str, Any]:
        seconds = max(1, round(timeout_s))
        return {"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"}

    def make_engine(self, url: URL, **kwargs: Any) -> Engine:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # committed at once: a SET inside a transaction that rolls back is undone
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
                cursor.execute(
                    f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}"
                )
            dbapi_connection.commit()

        return engine

    def insert(self, table: Table) -> Upsert:
        return postgresql.insert(table)

    def insert_rows(self, table: Table) -> Upsert:
        # the rows were copied into the staging table in binary (copy_staging): the
        # driver's per-value Python formatting of parameters is the slow part otherwise
        staged = copy_staging.stage(table)
        return self.insert(table).from_select(row_columns(table), select(*staged.columns))

    def binary_text(self, column: Any) -> Any:
        # PostgreSQL collations may order text differently from Python
        return collate(column, "C")

    def among(self, column: Any, name: str) -> ColumnElement[bool]:
        # opaque to the planner (judge_sql.opaque): a batch's ids are looked up by index
        # even where they are most of a small table or the statistics are missing
        ids = select(cast(bindparam(name), judge_sql.ID_ARRAY))
        found: ColumnElement[bool] = column == any_(judge_sql.opaque(ids))
        return found

    def order_repository(
        self, connection: Connection, clock: Callable[[], datetime] | None = None
    ) -> SqlOrderRepository:
        return PostgresOrderRepository(connection, self, clock)

    def after_commit(self, engine: Engine, orders: SqlOrderRepository) -> None:
        if isinstance(orders, PostgresOrderRepository) and orders.rows_written:
            statistics.after_commit(engine, orders.rows_written)
            orders.rows_written = 0

    def after_lock_timeout(self, engine: Engine) -> None:
        end_stuck_copies(engine)  # a frozen worker's locks: see infra.db.stuck

    def standby_status(self, conn: Connection) -> StandbyStatus | None:
        return read_standby_status(conn) if self.in_recovery(conn) else None

    def in_recovery(self, conn: Connection) -> bool:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one())

    def epoch_us(self, column: str) -> str:
        # date_part is float8 (faster than numeric EXTRACT): e = x / 1e6 correctly rounded,
        # within 2^-21 s (0.48 us) of the true value while e < 2^33 s (year 2242). So
        # floor(e) is the exact whole second and the fraction times 1e6 is within 0.48 of
        # the microseconds: both round exactly. Rounding e * 1e6 in one go is not exact:
        # from 2041 the product is only a multiple of 0.5, and ties round to even.
        epoch = f"date_part('epoch', {column})"
        return (
            f"(CAST(floor({epoch}) AS BIGINT) * 1000000"
            f" + CAST(round(({epoch} - floor({epoch})) * 1000000) AS BIGINT))"
        )

    def now_us(self) -> str:
        return "CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)"

    def timestamp(self, micros: str) -> str:
        return f"(TIMESTAMPTZ '1970-01-01 00:00:00+00' + {micros} * INTERVAL '1 microsecond')"

    def day(self, column: str) -> str:
        return f"CAST({column} AT TIME ZONE 'UTC' AS DATE)"

    def fence(self) -> str:
        # Without it the planner substitutes each column's expression into every use,
        # and the deadline expression would be evaluated a dozen times per order.
        return "OFFSET 0"

    def once(self, expression: str) -> str:
        return f"(SELECT {expression})"

    def reached(self, column: str, as_of_us: str, value: bool) -> str:
        # Compares the stored timestamps and converts only the ones it returns: the
        # conversions are the costliest part of the per-order SELECT.
        result = self.epoch_us(column) if value else "1"
        return f"CASE WHEN {column} <= {self.once(self.timestamp(as_of_us))} THEN {result} END"

    def percentile_select(
        self,
        columns: Sequence[str],
        keys: Sequence[str],
        source: str,
        group_by: str,
        metrics: Sequence[str],
        percentiles: Sequence[tuple[str, float]],
    ) -> str:
        every = [*columns, *percentile_cont_columns(metrics, percentiles)]
        return f"SELECT {', '.join(every)}\nFROM ({source}) AS o\n{group_by}"


class PostgresOrderRepository(SqlOrderRepository):
    """Writes through the staging tables; re-judges and recounts in one statement."""

    def __init__(
        self,
        connection: Connection,
        backend: SqlBackend,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(connection, backend, clock)
        #: staging tables written in this transaction
        self._staged: set[str] = set()
        #: rows sent to the history insert and the sales upsert since the last commit
        self.rows_written = 0

    def rejudge(self, order_ids: Collection[str]) -> int:
        if not order_ids:
            return 0
        statement = judge_sql.rejudge_and_recount(self._backend)
        return int(self._conn.execute(statement, {"order_ids": sorted(order_ids)}).scalar_one())

    def _all_inserted(self, result: Result[*tuple[Any, ...]], rows: int) -> bool:
        # the server's row count of the INSERT: turning 5,000 returned ids into Python
        # strings only to find all of them there cost more than building the rows
        return isinstance(result, CursorResult) and result.rowcount == rows

    def _write(
        self, table: Table, values: Sequence[tuple[Any, ...]]
    ) -> CursorResult[*tuple[Any, ...]]:
        if not self._staged:
            # once per transaction: a table created in a rolled-back one is gone. No JIT:
            # compiling costs more than these short statements run, and the estimates
            # that would trigger it are largest on the tables with no statistics.
            self._conn.exec_driver_sql(f"SET LOCAL jit = off; {copy_staging.create_stages_sql()}")
        elif table.name in self._staged:
            # emptied at commit only: clear what an earlier call of this transaction left
            self._conn.exec_driver_sql(f"DELETE FROM {copy_staging.stage(table).name}")
        self._staged.add(table.name)
        self.rows_written += len(values)
        driver = self._conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.cursor() as cursor, cursor.copy(copy_staging.copy_sql(table)) as copy:
            copy.set_types(copy_staging.copy_types(table))
            for row in values:
                copy.write_row(row)
        return self._conn.execute(self._statement(table))

"""PostgreSQL: part of a report computed on a second connection, over the same snapshot.

The percentiles are sorts, and one PostgreSQL backend sorts on one core. The
report's own connection exports its snapshot (``pg_export_snapshot``); a second
connection imports it (``SET TRANSACTION SNAPSHOT``), so both read exactly the
same data, and computes part of the aggregates meanwhile. Errors of either
connection surface as SQLAlchemy errors from :meth:`SharedSnapshotWorker.submit`'s
future.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, text

T = TypeVar("T")

#: Memory per sort of a report: a million narrow rows sort in memory, not on disk.
WORK_MEM = "256MB"


def tune(conn: Connection) -> None:
    """Settings for the current transaction of a report connection (PostgreSQL)."""
    # JIT compiling the wide CASE expressions costs far more than it saves.
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


class SharedSnapshotWorker:
    """Runs work on a second connection that sees the snapshot of ``conn``.

    ``conn`` must be at the start of a REPEATABLE READ transaction, which must stay
    open until the futures are done (leaving the ``with`` block waits for them).
    """

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        tune(conn)
        self._snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sla-report")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True)

    def submit(self, work: Callable[[Connection], T]) -> Future[T]:
        """``work(connection)`` on the second connection, in a read-only transaction."""
        return self._pool.submit(self._run, work)

    def _run(self, work: Callable[[Connection], T]) -> T:
        options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
        with self._engine.connect().execution_options(**options) as conn, conn.begin():
            # Must come first in the transaction: every later statement reads this snapshot.
            conn.execute(text(f"SET TRANSACTION SNAPSHOT '{self._snapshot}'"))
            conn.execute(text("SET TRANSACTION READ ONLY"))
            tune(conn)
            return work(conn)

"""Engines for PostgreSQL (psycopg 3) and SQLite, built on demand from a URL.

SQLite gets what the apply path relies on: foreign keys enforced (the history
foreign key is deferred to commit), WAL so readers do not block the writer, a
busy timeout instead of immediate "database is locked", and ``BEGIN IMMEDIATE``
so a transaction takes the write lock up front rather than failing mid-way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL: a session idle inside a transaction this long is ended by the server.
#: A worker frozen mid-batch (SIGSTOP, a paused VM) would otherwise hold its row
#: locks for as long as it is frozen, and the member that took over its partitions
#: would wait on them; the batch is simply re-read by its new owner.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000
#: PostgreSQL: the longest wait for a row lock before the statement fails (and its
#: batch is retried with backoff) -- a bounded wait instead of an unbounded one.
LOCK_TIMEOUT_MS = 10_000


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; nothing connects until first use.

    Raises ``sqlalchemy.exc.ArgumentError`` for a malformed URL and
    ``NotImplementedError`` for a backend other than PostgreSQL or SQLite.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
        _configure_postgresql(engine)
        return engine
    raise NotImplementedError(
        f"unsupported database backend {backend!r} (use postgresql or sqlite)"
    )


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # committed at once: a SET inside a transaction that rolls back is undone
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            )
        dbapi_connection.commit()


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
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

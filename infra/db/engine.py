"""Engines for PostgreSQL (psycopg 3) and SQLite, built on demand from a URL.

Each backend configures its engine (``SqlBackend.make_engine``): PostgreSQL sets
the lock and idle-in-transaction timeouts below on every session; SQLite gets
what the apply path relies on: WAL so readers do not block the writer, a busy
timeout instead of immediate "database is locked", and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front rather than failing mid-way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from infra.db.backend import backend_named

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
    """An engine for ``url``, configured by its backend; nothing connects until first use.

    Raises ``sqlalchemy.exc.ArgumentError`` for a malformed URL and
    ``NotImplementedError`` for a backend other than PostgreSQL or SQLite.
    """
    parsed = normalize_url(url)
    return backend_named(parsed.get_backend_name()).make_engine(parsed, **kwargs)

"""Translate database driver errors into the consumer's error types."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc as sa_exc

from consumer.errors import InfrastructureError


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be used right now (retry may help).

    Lost connections, refused connections, pool timeouts, locks held too long
    (SQLite "database is locked") and serialization failures all qualify; a
    programming or integrity error does not.
    """
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    # The COPY path talks to psycopg directly, so its errors arrive unwrapped; the
    # server ending a session idle in a transaction is SQLSTATE class 25 (an
    # InternalError to psycopg), but the connection is gone all the same.
    return isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError
        | psycopg.errors.IdleInTransactionSessionTimeout,
    )


#: psycopg's preamble before the server's reason ("connection failed: connection to
#: server at "h", port 5432 failed: FATAL:  ..."): the URL already says where
_CONNECT_PREAMBLE = re.compile(
    r"^(connection failed: )?(connection to server at [^:]*?(, port \d+)? failed: )?(FATAL: +)?"
)


def first_line(error: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapper), first line, at most 300 chars."""
    text = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


def is_missing_table(error: BaseException) -> bool:
    """Whether ``error`` says a table or view does not exist (an unmigrated database)."""
    orig = getattr(error, "orig", None) or error
    if isinstance(orig, psycopg.errors.UndefinedTable):
        return True
    return isinstance(orig, sqlite3.OperationalError) and "no such table" in str(orig)


def connection_failure(error: BaseException) -> str | None:
    """Why no connection could be made (refused, unknown host, authentication failed,
    no such database or file), or ``None`` if ``error`` is something else."""
    orig = getattr(error, "orig", None) or error
    if isinstance(orig, psycopg.OperationalError) and str(orig).startswith(
        ("connection failed", "failed to resolve host", "connection is bad")
    ):
        return _CONNECT_PREAMBLE.sub("", first_line(orig)) or first_line(orig)
    if isinstance(orig, sqlite3.OperationalError) and "unable to open" in str(orig):
        return first_line(orig)
    return None


def as_infrastructure_error(error: BaseException) -> InfrastructureError | None:
    """The ``InfrastructureError`` that ``error`` stands for, or ``None`` if it is not one."""
    if not is_unavailable(error):
        return None
    return InfrastructureError("database", first_line(error))


@contextmanager
def database_errors() -> Iterator[None]:
    """Re-raise unavailability errors as ``InfrastructureError("database", ...)``."""
    try:
        yield
    except (sa_exc.SQLAlchemyError, psycopg.Error) as error:
        translated = as_infrastructure_error(error)
        if translated is not None:
            raise translated from error
        raise

"""Translate database driver errors into the consumer's error types."""

from __future__ import annotations

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
    # The COPY path talks to psycopg directly, so its errors arrive unwrapped.
    return isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )


def as_infrastructure_error(error: BaseException) -> InfrastructureError | None:
    """The ``InfrastructureError`` that ``error`` stands for, or ``None`` if it is not one."""
    if not is_unavailable(error):
        return None
    text = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
    return InfrastructureError("database", text.splitlines()[0][:300])


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

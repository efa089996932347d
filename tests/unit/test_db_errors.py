"""Which database errors mean "unavailable, retry" and which are real failures."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from consumer.errors import InfrastructureError
from infra.db.errors import as_infrastructure_error, database_errors


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("terminating connection due to administrator command"),
        psycopg.InterfaceError("the connection is closed"),
        # the server ended a session left idle inside a transaction (a frozen worker)
        psycopg.errors.IdleInTransactionSessionTimeout(
            "terminating connection due to idle-in-transaction timeout"
        ),
        sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    ],
)
def test_lost_connections_become_database_infrastructure_errors(error: Exception) -> None:
    translated = as_infrastructure_error(error)
    assert isinstance(translated, InfrastructureError)
    assert translated.kind == "database"
    with pytest.raises(InfrastructureError), database_errors():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.UniqueViolation("duplicate key"),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("not a database error"),
    ],
)
def test_programming_and_integrity_errors_are_not_retried(error: Exception) -> None:
    assert as_infrastructure_error(error) is None

"""The SQL unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from infra.db.backend import backend_for
from infra.db.errors import as_infrastructure_error, database_errors
from infra.db.repository import SqlOrderRepository
from infra.db.stuck import waited_for_a_lock


class SqlUnitOfWork:
    """``consumer.ports.UnitOfWork`` over an engine.

    The repository is the engine's backend's (``infra.db.backend``): it decides how
    rows reach the server (a ``VALUES`` list, or ``COPY`` into staging tables).

    Entering opens a connection and begins a transaction; leaving without
    ``commit()`` rolls back. A lost or refused database connection surfaces as
    ``consumer.errors.InfrastructureError`` (from enter, commit or any
    repository call), never as a driver exception.
    """

    orders: SqlOrderRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._backend = backend_for(engine)
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        with database_errors():
            self._connection = self._engine.connect()
            try:
                self._connection.begin()
            except BaseException:
                self._connection.close()
                self._connection = None
                raise
        self.orders = self._backend.order_repository(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # rollback after a failure may itself fail on a dead connection
            if connection.in_transaction():
                connection.rollback()
        except Exception:
            connection.invalidate()
        finally:
            connection.close()
        if waited_for_a_lock(exc):
            self._backend.after_lock_timeout(self._engine)
        translated = as_infrastructure_error(exc) if exc is not None else None
        if translated is not None:
            raise translated from exc

    @property
    def connection(self) -> Connection:
        """The open connection (only inside ``with``)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        with database_errors():
            self.connection.commit()
        self._backend.after_commit(self._engine, self.orders)

    def rollback(self) -> None:
        with database_errors():
            self.connection.rollback()

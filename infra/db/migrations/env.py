"""Alembic environment: runs on the connection handed over by ``infra.db.migrate``.

Run from code (``sla-pipeline db upgrade``), so no ``alembic.ini`` is needed in
the working directory. ``alembic`` on the command line works too when
``sqlalchemy.url`` is set in its config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from infra.db.engine import make_engine
from infra.db.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
_run_online()

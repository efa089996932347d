"""Run the packaged Alembic migrations from code (no ``alembic.ini`` needed)."""

from __future__ import annotations

import logging
from pathlib import Path

# Importing Alembic logs each of its autogenerate plugins at INFO, lines a user of a
# command that only migrates on start has no use for: quiet before the import
# (``upgrade(verbose=True)`` shows the steps of a migration).
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from infra.db.errors import database_errors  # noqa: E402

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["url"] = engine.url
    return config


def upgrade(engine: Engine, revision: str = "head", *, verbose: bool = False) -> None:
    """Migrate the database of ``engine`` up to ``revision`` (logs each step if ``verbose``).

    Raises ``InfrastructureError`` if the database cannot be reached.
    """
    # Alembic logs every step at INFO; jobs that migrate on start keep quiet
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    with database_errors(), engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at (empty when never migrated)."""
    with database_errors(), engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def head_revisions() -> tuple[str, ...]:
    """The newest revisions the packaged migrations know."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())

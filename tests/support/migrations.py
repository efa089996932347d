"""Moving a test database down the migration chain (the product only goes up)."""

from __future__ import annotations

from sqlalchemy import Engine


def downgrade(engine: Engine, revision: str) -> None:
    """Run the migrations' downgrades on ``engine`` down to ``revision``."""
    from alembic import command

    from infra.db.migrate import alembic_config

    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

"""Database commands: migrate, rebuild ``sales`` from history, verify."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from cli.config import get_settings
from cli.errors import describe_infrastructure_error, fail
from consumer.errors import InfrastructureError
from domain.codec import EventDecodeError
from infra import bootstrap
from infra.db.migrate import current_revisions, head_revisions, upgrade
from infra.db.rebuild import rebuild_sales, verify


@contextmanager
def _database() -> Iterator[None]:
    try:
        yield
    except InfrastructureError as error:
        fail(describe_infrastructure_error(error, get_settings(click.get_current_context())))
    except EventDecodeError as error:
        fail(f"order_history holds a payload that is not a valid event: {error}")


@click.group("db")
def db_group() -> None:
    """Migrate the database, rebuild sales from history, verify.

    \b
    Example:
      sla-pipeline db upgrade
      sla-pipeline db verify
    """


@db_group.command("upgrade")
@click.option(
    "--revision",
    default="head",
    show_default=True,
    help="Migration revision to upgrade to (head: the newest).",
)
@click.pass_context
def upgrade_command(ctx: click.Context, revision: str) -> None:
    """Apply the packaged migrations (PostgreSQL or SQLite); safe to run again.

    \b
    Example:
      SLA_DATABASE_URL=postgresql+psycopg://sla:pw@localhost/sla sla-pipeline db upgrade
    """
    settings = get_settings(ctx)
    with _database():
        engine = bootstrap.database_engine(settings)
        upgrade(engine, revision, verbose=True)
        at = current_revisions(engine)
        engine.dispose()
    click.echo(
        f"{settings.masked_database_url()} at revision {', '.join(at) or 'none'} "
        f"(newest: {', '.join(head_revisions())})"
    )


@db_group.command("rebuild-sales")
@click.pass_context
def rebuild_command(ctx: click.Context) -> None:
    """Recompute sales (and legality flags) from order_history alone, in one transaction.

    \b
    Example:
      sla-pipeline db rebuild-sales
    """
    with _database():
        engine = bootstrap.migrated_engine(get_settings(ctx))
        orders = rebuild_sales(engine)
        engine.dispose()
    click.echo(f"rebuilt {orders} orders from order_history")


@db_group.command("verify")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Differences to print at most.",
)
@click.pass_context
def verify_command(ctx: click.Context, limit: int) -> None:
    """Compare a rebuild from order_history with the live tables; exit 1 on any difference.

    \b
    Example:
      sla-pipeline db verify --limit 10
    """
    with _database():
        engine = bootstrap.migrated_engine(get_settings(ctx))
        found = verify(engine, limit=limit)
        engine.dispose()
    for line in found.lines:
        click.echo(line)
    if found.count:
        fail(f"{found.count} differences between sales and a rebuild from order_history")
    click.echo(f"sales matches order_history: {found.orders_checked} orders checked")


COMMANDS: list[click.Command] = [db_group]

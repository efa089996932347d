"""Database commands: migrate, rebuild and verify."""

from __future__ import annotations

import click

from cli.common import fail


@click.command("db", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def db_command() -> None:
    """Migrate the database, rebuild sales from history, verify (not built yet)."""
    fail("'db' is not built yet in this version")


COMMANDS: list[click.Command] = [db_command]

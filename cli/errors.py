"""Readable failures of the command line: one ``error:`` line and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from consumer.errors import InfrastructureError
from infra.settings import Settings


class CliError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def fail(message: str) -> NoReturn:
    """Stop the command with one readable line and a non-zero exit."""
    raise CliError(message)


def describe_database_error(error: BaseException, masked_url: str, doing: str) -> str:
    """One line for a database error met while ``doing`` (e.g. "compute the report"):
    a failed connection names the database and why; a missing table hints at
    ``db upgrade``, which creates the tables."""
    from infra.db.errors import connection_failure, first_line, is_missing_table

    reason = connection_failure(error)
    if reason is not None:
        return f"cannot connect to the database at {masked_url}: {reason}"
    if is_missing_table(error):
        return (
            f"cannot {doing} from {masked_url}: {first_line(error)}"
            " (has `sla-pipeline db upgrade` been run?)"
        )
    return f"cannot {doing} from {masked_url}: {first_line(error)}"


def describe_infrastructure_error(error: InfrastructureError, settings: Settings) -> str:
    """One line for an unavailable service; a database one names the (masked) URL."""
    if error.kind == "database" and error.__cause__ is not None:
        return describe_database_error(
            error.__cause__, settings.masked_database_url(), "use the database"
        )
    return str(error)


@contextmanager
def infrastructure_errors(settings: Settings) -> Iterator[None]:
    """Turn an unavailable service met inside the block into one ``error:`` line."""
    try:
        yield
    except InfrastructureError as error:
        fail(describe_infrastructure_error(error, settings))

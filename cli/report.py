"""SLA reports."""

from __future__ import annotations

import click

from cli.common import fail


@click.command(
    "report", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def report_command() -> None:
    """Report delivery SLAs (not built yet)."""
    fail("'report' is not built yet in this version")


COMMANDS: list[click.Command] = [report_command]

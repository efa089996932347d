"""Which subcommands ``sla-pipeline`` has; each lives in its own module."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach every subcommand to ``group``."""
    from cli import consume, db, produce, report, schema

    for module in (produce, consume, db, report, schema):
        for command in module.COMMANDS:
            group.add_command(command)

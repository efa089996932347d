"""Consumer commands: the worker, local ingest, the demo and the dead-letter topic."""

from __future__ import annotations

import click

from cli.common import fail


@click.command(
    "consume", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def consume_command() -> None:
    """Run a consumer-group worker: Kafka to the database (not built yet)."""
    fail("'consume' is not built yet in this version")


@click.command(
    "ingest", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def ingest_command() -> None:
    """Apply CSV or JSONL files to the database with no broker (not built yet)."""
    fail("'ingest' is not built yet in this version")


@click.command("demo", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def demo_command() -> None:
    """Generate, ingest into SQLite and summarise SLAs, with no broker (not built yet)."""
    fail("'demo' is not built yet in this version")


@click.command("dlq", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def dlq_command() -> None:
    """Inspect and redrive the dead-letter topic (not built yet)."""
    fail("'dlq' is not built yet in this version")


COMMANDS: list[click.Command] = [consume_command, ingest_command, demo_command, dlq_command]

"""Producer commands: generate files, publish live, replay files, create topics."""

from __future__ import annotations

import click

from cli.common import fail


@click.command(
    "generate", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def generate_command() -> None:
    """Generate order events to CSV or JSONL files (not built yet)."""
    fail("'generate' is not built yet in this version")


@click.command(
    "produce", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def produce_command() -> None:
    """Publish simulated events live to Kafka (not built yet)."""
    fail("'produce' is not built yet in this version")


@click.command(
    "replay", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def replay_command() -> None:
    """Replay CSV or JSONL files into the topics (not built yet)."""
    fail("'replay' is not built yet in this version")


@click.command(
    "topics", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def topics_command() -> None:
    """Create the pipeline topics (not built yet)."""
    fail("'topics' is not built yet in this version")


COMMANDS: list[click.Command] = [generate_command, produce_command, replay_command, topics_command]

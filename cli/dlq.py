"""``sla-pipeline dlq``: list dead letters with their reasons, redrive chosen ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from cli.common import fail, get_settings
from consumer.dlq import DeadLetter
from consumer.errors import InfrastructureError
from infra.kafka.dead_letters import read_dead_letters, redrive


@contextmanager
def _broker() -> Iterator[None]:
    try:
        yield
    except InfrastructureError as error:
        fail(str(error))


@click.group("dlq")
def dlq_group() -> None:
    """Inspect and redrive the dead-letter topic."""


def _select(letters: Iterator[DeadLetter], reason: str | None) -> Iterator[DeadLetter]:
    return (letter for letter in letters if reason is None or letter.reason == reason)


@dlq_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--reason", help="Only letters with this dlq.reason code.")
@click.pass_context
def list_command(ctx: click.Context, limit: int, reason: str | None) -> None:
    """Show dead letters from the beginning (reads with a throwaway group; commits nothing)."""
    settings = get_settings(ctx)
    shown = 0
    with _broker():
        for letter in _select(
            read_dead_letters(settings.kafka_client_config(), settings.topic_dlq), reason
        ):
            if shown >= limit:
                break
            source = str(letter.source) if letter.source else "?"
            value = (letter.value or b"")[:80].decode("utf-8", "replace")
            click.echo(
                f"{letter.position.partition}:{letter.position.offset}  {letter.reason:<26} "
                f"from {source}  {letter.error[:100]}  value={value!r}"
            )
            shown += 1
    click.echo(f"{shown} dead letters shown")


def _parse_offsets(values: tuple[str, ...]) -> set[tuple[int, int]]:
    chosen: set[tuple[int, int]] = set()
    for value in values:
        for item in value.split(","):
            partition, sep, offset = item.strip().rpartition(":")
            try:
                chosen.add((int(partition) if sep else 0, int(offset)))
            except ValueError:
                fail(
                    f"--offsets expects PARTITION:OFFSET (or OFFSET for partition 0), got {item!r}"
                )
    return chosen


@dlq_group.command("redrive")
@click.option("--reason", help="Redrive letters with this dlq.reason code.")
@click.option(
    "--offsets", multiple=True, metavar="P:O[,P:O...]", help="Redrive these DLQ positions."
)
@click.option("--all", "everything", is_flag=True, help="Redrive every dead letter.")
@click.option("--dry-run", is_flag=True, help="Show what would be redriven.")
@click.pass_context
def redrive_command(
    ctx: click.Context,
    reason: str | None,
    offsets: tuple[str, ...],
    everything: bool,
    dry_run: bool,
) -> None:
    """Publish chosen dead letters back to their source topics (original key, value, headers)."""
    if not (reason or offsets or everything):
        fail("choose letters with --reason, --offsets or --all")
    positions = _parse_offsets(offsets)
    settings = get_settings(ctx)
    with _broker():
        letters = [
            letter
            for letter in _select(
                read_dead_letters(settings.kafka_client_config(), settings.topic_dlq), reason
            )
            if not positions or (letter.position.partition, letter.position.offset) in positions
        ]
        if dry_run:
            for letter in letters:
                where = f"{letter.position.partition}:{letter.position.offset}"
                click.echo(f"would redrive {where} to {letter.source}")
            return
        count = redrive(settings.kafka_client_config(), letters)
    click.echo(f"redrove {count} dead letters")

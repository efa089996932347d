"""``sla-pipeline dlq``: list dead letters with their reasons, redrive chosen ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from confluent_kafka import KafkaException

from cli.config import get_settings
from cli.errors import fail
from consumer.dlq import DeadLetter
from consumer.errors import InfrastructureError
from domain.codec import RejectReason
from infra import bootstrap
from infra.kafka.admin import ClusterUnreachable
from infra.kafka.dead_letters import DeadLetterTopic

_REASONS = tuple(reason.value for reason in RejectReason)


@contextmanager
def _broker(topic: DeadLetterTopic) -> Iterator[None]:
    """Fail in seconds, naming the address, when no broker answers (the reads below
    would wait their whole timeout first); then turn broker errors into one line."""
    try:
        topic.check_cluster()
    except ClusterUnreachable as error:
        fail(str(error))
    except KafkaException as error:
        fail(f"invalid Kafka configuration: {error.args[0]}")
    try:
        yield
    except InfrastructureError as error:
        fail(str(error))


@click.group("dlq")
def dlq_group() -> None:
    """Inspect and redrive the dead-letter topic.

    \b
    Example:
      sla-pipeline dlq list --reason invalid_json
    """


def _check_reason(reason: str | None) -> None:
    # a typo would otherwise match nothing and look like an empty dead-letter topic
    if reason is not None and reason not in _REASONS:
        fail(f"--reason: {reason!r} is not a reason code (one of {', '.join(_REASONS)})")


def _select(letters: Iterator[DeadLetter], reason: str | None) -> Iterator[DeadLetter]:
    return (letter for letter in letters if reason is None or letter.reason == reason)


def _where(letter: DeadLetter) -> str:
    return f"{letter.position.partition}:{letter.position.offset}"


def _truncation(letter: DeadLetter) -> str:
    size = "?" if letter.original_size is None else letter.original_size
    return f"truncated (original {size} bytes, sha256 {letter.original_sha256 or '?'})"


def _one_line(text: str) -> str:
    return " ".join(text.split())  # an error text with newlines must not break the listing


@dlq_group.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Show at most this many letters.",
)
@click.option("--reason", help="Only letters with this dlq.reason code.")
@click.pass_context
def list_command(ctx: click.Context, limit: int, reason: str | None) -> None:
    """Show dead letters from the beginning (reads with a throwaway group; commits nothing).

    Each line: PARTITION:OFFSET, reason code, source topic[partition]@offset,
    the error and the start of the original value.

    \b
    Example:
      sla-pipeline dlq list --limit 20 --reason invalid_json
    """
    _check_reason(reason)
    topic = bootstrap.dead_letter_topic(get_settings(ctx))
    shown = 0
    with _broker(topic):
        for letter in _select(topic.letters(), reason):
            if shown >= limit:
                break
            source = str(letter.source) if letter.source else "?"
            value = (letter.value or b"")[:80].decode("utf-8", "replace")
            cut = f"  {_truncation(letter)}" if letter.truncated else ""
            click.echo(
                f"{_where(letter)}  {letter.reason:<26} "
                f"from {source}  {_one_line(letter.error)[:100]}  value={value!r}{cut}"
            )
            shown += 1
    click.echo(f"{shown} dead letters shown")


def _parse_offsets(values: tuple[str, ...]) -> set[tuple[int, int]]:
    chosen: set[tuple[int, int]] = set()
    for value in values:
        for item in value.split(","):
            partition, sep, offset = item.strip().rpartition(":")
            try:
                position = (int(partition) if sep else 0, int(offset))
            except ValueError:
                position = (-1, -1)
            if min(position) < 0:
                fail(
                    f"--offsets expects PARTITION:OFFSET (or OFFSET for partition 0), got {item!r}"
                )
            chosen.add(position)
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
    """Publish chosen dead letters back to their source topics (original key, value, headers).

    Choose with exactly one of --reason, --offsets (DLQ positions as shown by
    dlq list) or --all. Nothing is published when a chosen position is not
    on the topic, or a chosen letter has no source headers or source topic.
    Truncated letters (too large for the dead-letter topic, their value cut) are
    refused, one line each, the others redriven, and the exit status is 1.

    \b
    Example:
      sla-pipeline dlq redrive --offsets 0:12,0:15 --dry-run
      sla-pipeline dlq redrive --reason missing_field
    """
    if sum((reason is not None, bool(offsets), everything)) != 1:
        fail("choose letters with exactly one of --reason, --offsets or --all")
    _check_reason(reason)
    positions = _parse_offsets(offsets)
    topic = bootstrap.dead_letter_topic(get_settings(ctx))
    with _broker(topic):
        letters = [
            letter
            for letter in _select(topic.letters(), reason)
            if not positions or (letter.position.partition, letter.position.offset) in positions
        ]
        missing = positions - {(lt.position.partition, lt.position.offset) for lt in letters}
        if missing:
            listed = ", ".join(f"{p}:{o}" for p, o in sorted(missing))
            fail(f"--offsets: no dead letter at {listed} on {topic.topic}")
        sourceless = [_where(letter) for letter in letters if letter.source is None]
        if sourceless:
            fail(f"cannot redrive {', '.join(sourceless)}: no dlq.source.* headers")
        refused = [letter for letter in letters if letter.truncated]
        for letter in refused:
            click.echo(
                f"refused {_where(letter)}: {_truncation(letter)}, its value is incomplete "
                "and can never be valid",
                err=True,
            )
        letters = [letter for letter in letters if not letter.truncated]
        if dry_run:
            for letter in letters:
                click.echo(f"would redrive {_where(letter)} to {letter.source}")
        else:
            try:
                count = topic.redrive(letters) if letters else 0
            except ValueError as error:
                fail(f"cannot redrive: {error}")
            click.echo(f"redrove {count} dead letters")
    if refused:
        fail(f"{len(refused)} truncated dead letters not redriven")


COMMANDS: list[click.Command] = [dlq_group]

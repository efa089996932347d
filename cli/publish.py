"""``sla-pipeline produce`` and ``replay``: publish a live simulation or event files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from confluent_kafka import KafkaException

from cli.config import get_settings
from cli.errors import fail
from cli.progress import progress
from cli.simulation_options import (
    echo_seed,
    estimated_events,
    fault_options,
    fault_rates,
    now,
    simulation_config,
    simulation_options,
)
from infra import bootstrap
from infra.kafka.producer import BrokerUnreachable, KafkaEventPublisher
from producer.file_reader import EventFileError, FileRecord, count_rows
from producer.publish import PublishResult, TopicNames, planned_messages, publish
from producer.replay import RejectSink, replay

_MAX_REJECT_LINES = 20
#: A live simulation starts this far back: reports as of now then see a week of
#: history (delivered, late and open orders), not only orders placed seconds ago.
LIVE_HISTORY = timedelta(days=7)


def _publisher(ctx: click.Context) -> tuple[KafkaEventPublisher, TopicNames]:
    """A publisher whose cluster has answered (else one error line, exit 1)."""
    settings = get_settings(ctx)
    try:
        publisher = bootstrap.event_publisher(settings)
    except KafkaException as exc:
        fail(f"invalid Kafka configuration: {exc.args[0]}")
    except BrokerUnreachable as exc:
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}")
    return publisher, bootstrap.topic_names(settings)


def _summary(result: PublishResult) -> None:
    click.echo(
        f"sent {result.delivered}, failed {result.failed}, attempted {result.attempted}, "
        f"{result.rate:,.0f} msg/s over {result.elapsed_s:.2f} s"
    )


def _exit_if_failed(result: PublishResult, publisher: KafkaEventPublisher) -> None:
    """On any undelivered message: one error line with the reasons, exit 1."""
    if not result.ok:
        fail(result.failure(publisher.client_error))


@click.command("produce")
@click.option("--orders", type=click.IntRange(1), default=None, help="Publish this many orders.")
@click.option(
    "--duration",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Or publish an endless simulation for this long.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    metavar="EVENTS_PER_S",
    show_default="as fast as possible",
    help="At most this many messages per second.",
)
@click.option(
    "--ahead",
    is_flag=True,
    help="Do not wait for the clock: publish as fast as the simulation goes, with event "
    "times running ahead of the wall clock.",
)
@simulation_options(f"{LIVE_HISTORY.days} days before now")
@fault_options
@click.pass_context
def produce_command(
    ctx: click.Context,
    /,
    orders: int | None,
    duration: float | None,
    rate: float | None,
    ahead: bool,
    seed: int | None,
    start: str | None,
    orders_per_hour: float,
    **rates: float,
) -> None:
    """Publish a live simulation, keyed by order id, in step with the wall clock.

    By default the simulation starts a week ago: that week of history is published
    at once (at --rate), then every event goes out when the clock reaches its event
    time, so the data always describe the present (reports as of now are right).
    Exits non-zero if any message was not delivered.

    \b
    Example:
      sla-pipeline produce --duration 300
      sla-pipeline produce --orders 1000 --rate 500 --start 2025-01-06T00:00:00Z --ahead
    """
    if (orders is None) == (duration is None):
        fail("give exactly one of --orders N or --duration SECONDS")
    config = simulation_config(orders, seed, start, orders_per_hour, now() - LIVE_HISTORY)
    faults = fault_rates(rates)
    messages = planned_messages(config, faults)
    publisher, topics = _publisher(ctx)
    with progress("produce", estimated_events(config, faults), "messages") as advance:
        result = publish(
            messages,
            publisher,
            topics,
            rate=rate,
            duration_s=duration,
            live=not ahead,
            progress=advance,
        )
    _summary(result)
    echo_seed(seed, config)
    _exit_if_failed(result, publisher)


@click.command("replay")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    metavar="FACTOR",
    help="Keep event-time gaps, divided by FACTOR (3600: an hour per second).",
)
@click.option("--max-speed", is_flag=True, help="Send as fast as possible (the default).")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default="<file>.rejects next to each file",
    help="Write rejected rows here.",
)
@click.pass_context
def replay_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    speed: float | None,
    max_speed: bool,
    rejects: Path | None,
) -> None:
    """Replay CSV or JSONL files into the topics with their original event times.

    The event time stays in each message's JSON; the Kafka timestamp is the publish
    time, so a topic's retention does not delete old history as it arrives.

    Rows that are not valid events are not sent: each is reported with file and
    line and written to a rejects file. Exits non-zero if a delivery failed.

    \b
    Example:
      sla-pipeline replay data/orders_new.csv data/logistics_updates.csv
      sla-pipeline replay --speed 3600 events.jsonl
    """
    if speed is not None and max_speed:
        fail("give --speed or --max-speed, not both")
    publisher, topics = _publisher(ctx)
    shown = 0

    def report(record: FileRecord) -> None:
        nonlocal shown
        shown += 1
        if shown <= _MAX_REJECT_LINES and record.error is not None:
            click.echo(f"{record.path}:{record.line}: rejected: {record.error}", err=True)

    try:
        with (
            RejectSink(rejects) as sink,
            progress("replay", count_rows(files), "rows") as advance,
        ):
            result = replay(
                files, publisher, topics, sink,
                speed=speed, progress=advance, on_reject=report,
            )  # fmt: skip
    except EventFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write rejects: {exc}")
    _summary(result.published)
    click.echo(f"read {result.rows} rows, rejected {result.rejected}")
    for path in result.rejects_paths:
        click.echo(f"rejects written to {path}")
    _exit_if_failed(result.published, publisher)


COMMANDS: list[click.Command] = [produce_command, replay_command]

"""Producer commands: generate files, publish live, replay files."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from confluent_kafka import KafkaException

from cli.common import fail, get_settings
from cli.progress import progress
from infra.kafka.producer import (
    BrokerUnreachable,
    DeliveryCounter,
    build_producer,
    ensure_reachable,
)
from producer.faults import RATE_NAMES, RATE_SUBJECTS, FaultConfig
from producer.file_reader import EventFileError, FileRecord, count_rows
from producer.files import write_csv_events, write_jsonl_lines
from producer.publish import (
    PublishResult,
    TopicNames,
    planned_events,
    planned_lines,
    planned_messages,
    publish,
)
from producer.replay import RejectSink, replay
from producer.simulation import DEFAULT_START, SimulationConfig

F = TypeVar("F", bound=Callable[..., Any])
JSONL_FILE = "events.jsonl"
#: Below about this many events a progress bar is noise.
PROGRESS_MIN = 10_000
#: Orders simulated up front to estimate a run's events (its progress total).
PROGRESS_SAMPLE_ORDERS = 200
_MAX_REJECT_LINES = 20
#: Random seeds are drawn below this (short ids, and ``random.Random`` takes any int).
_RANDOM_SEEDS = 2**31
#: A live simulation starts this far back: reports as of now then see a week of
#: history (delivered, late and open orders), not only orders placed seconds ago.
LIVE_HISTORY = timedelta(days=7)
#: How long a command waits for the cluster's first answer before giving up.
CONNECT_TIMEOUT_S = 10.0


def fault_options(func: F) -> F:
    """The fault-injection knobs, all off by default."""
    for name in reversed(RATE_NAMES):
        flag = "--" + name.replace("_", "-")
        func = click.option(
            flag,
            name,
            type=click.FloatRange(0.0, 1.0),
            default=0.0,
            show_default=True,
            help=f"Share of {RATE_SUBJECTS[name]} given this fault.",
        )(func)
    return func


def simulation_options(start_default: str) -> Callable[[F], F]:
    """``--start``, ``--orders-per-hour``, ``--seed``; ``start_default`` describes no --start."""

    def decorate(func: F) -> F:
        func = click.option(
            "--start",
            default=None,
            metavar="ISO-8601|now",
            show_default=start_default,
            help="Event time of the first order, with offset.",
        )(func)
        func = click.option(
            "--orders-per-hour",
            type=click.FloatRange(0.001, 10_000_000),
            default=60.0,
            show_default=True,
            help="Mean order arrival rate (it varies over the day).",
        )(func)
        return click.option(
            "--seed",
            type=click.IntRange(0),
            default=None,
            show_default="a new one per run, so runs never share order ids",
            help="Random seed: the same seed gives the same orders, ids included.",
        )(func)

    return decorate


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _parse_start(value: str | None, default: datetime | None) -> datetime:
    """``--start``; ``default=None`` means now (a live simulation lives in the present)."""
    if value is None:
        return _now() if default is None else default
    if value.strip().lower() == "now":
        return _now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--start: {value!r} is not an ISO-8601 date-time")
    if moment.tzinfo is None:
        fail(f"--start: {value!r} needs a UTC offset, e.g. {value}+00:00")
    return moment


def _seed(seed: int | None) -> int:
    """The given seed, or a fresh random one (:func:`_echo_seed` says which).

    Order ids carry the seed (``ORD-<seed>-<n>``): with a fresh seed per run, a second
    run into the same database adds new orders instead of merging into the first run's.
    """
    return secrets.randbelow(_RANDOM_SEEDS) if seed is None else seed


def _echo_seed(given: int | None, config: SimulationConfig) -> None:
    """After a run with a drawn seed: which seed repeats it."""
    if given is None:
        seed = config.seed
        click.echo(f"seed {seed} (order ids ORD-{seed}-...; --seed {seed} repeats this run)")


def _simulation(
    orders: int | None,
    seed: int | None,
    start: str | None,
    per_hour: float,
    default_start: datetime | None,
) -> SimulationConfig:
    try:
        return SimulationConfig(
            orders=orders,
            seed=_seed(seed),
            start=_parse_start(start, default_start),
            orders_per_hour=per_hour,
        )
    except ValueError as exc:
        fail(str(exc))


def _faults(rates: dict[str, float]) -> FaultConfig:
    try:
        return FaultConfig.from_rates(rates)
    except ValueError as exc:
        fail(str(exc))


def _estimated_events(config: SimulationConfig, faults: FaultConfig) -> int | None:
    """About how many events ``config`` makes (a progress total), from a small sample of
    the same simulation; ``None`` for an endless one."""
    if config.orders is None:
        return None
    sample = replace(config, orders=min(config.orders, PROGRESS_SAMPLE_ORDERS))
    events = sum(1 for _ in planned_events(sample, faults))
    return round(events * config.orders / max(sample.orders or 1, 1))


@click.command("generate")
@click.option("--orders", type=click.IntRange(1), required=True, help="How many orders.")
@simulation_options(DEFAULT_START.isoformat())
@fault_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Output directory.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="csv: orders_new.csv + logistics_updates.csv; jsonl: events.jsonl (wire format).",
)
def generate_command(
    orders: int,
    seed: int | None,
    start: str | None,
    orders_per_hour: float,
    out: Path,
    file_format: str,
    **rates: float,
) -> None:
    """Simulate orders and write their events to files (same --seed, same bytes).

    Without --start the stream begins on a fixed historical date, so the files are
    history: report on them with `report --as-of` (see docs/files.md).

    
    Example:
      sla-pipeline generate --orders 10000 --out data
      sla-pipeline generate --orders 500 --format jsonl --duplicate-rate 0.05
    """
    config = _simulation(orders, seed, start, orders_per_hour, DEFAULT_START)
    faults = _faults(rates)
    try:
        total = _estimated_events(config, faults)
        with progress("generate", total, "events", bar=(total or 0) >= PROGRESS_MIN) as advance:
            if file_format == "csv":
                # CSV rows come from the events: wire bytes would be encoded for nothing
                summary = write_csv_events(planned_events(config, faults), out, advance)
            else:
                lines = planned_lines(config, faults)
                summary = write_jsonl_lines(lines, out / JSONL_FILE, advance)
    except OSError as exc:
        fail(f"cannot write to {out}: {exc.strerror or exc}")
    paths = ", ".join(str(p) for p in summary.paths)
    click.echo(f"wrote {summary.written} events to {paths}")
    _echo_seed(seed, config)
    if summary.skipped:
        what = "malformed" if file_format == "csv" else "malformed (not line-safe)"
        click.echo(f"skipped {summary.skipped} {what} messages that this format cannot hold")


def _producer(ctx: click.Context) -> tuple[Any, DeliveryCounter, TopicNames]:
    """A producer whose cluster has answered (else one error line, exit 1)."""
    settings = get_settings(ctx)
    counter = DeliveryCounter()
    try:
        producer = build_producer(settings.kafka_client_config(), counter)
    except KafkaException as exc:
        fail(f"invalid Kafka configuration: {exc.args[0]}")
    try:
        ensure_reachable(producer, counter, CONNECT_TIMEOUT_S)
    except BrokerUnreachable as exc:
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}")
    return producer, counter, TopicNames.from_settings(settings)


def _summary(result: PublishResult) -> None:
    click.echo(
        f"sent {result.delivered}, failed {result.failed}, attempted {result.attempted}, "
        f"{result.rate:,.0f} msg/s over {result.elapsed_s:.2f} s"
    )


def _exit_if_failed(result: PublishResult, counter: DeliveryCounter) -> None:
    """On any undelivered message: one error line with the reasons, exit 1."""
    if not result.ok:
        fail(result.failure(counter.client_error))


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
    config = _simulation(orders, seed, start, orders_per_hour, _now() - LIVE_HISTORY)
    faults = _faults(rates)
    messages = planned_messages(config, faults)
    producer, counter, topics = _producer(ctx)
    with progress("produce", _estimated_events(config, faults), "messages") as advance:
        result = publish(
            messages,
            producer,
            counter,
            topics,
            rate=rate,
            duration_s=duration,
            live=not ahead,
            progress=advance,
        )
    _summary(result)
    _echo_seed(seed, config)
    _exit_if_failed(result, counter)


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
    producer, counter, topics = _producer(ctx)
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
                files, producer, counter, topics, sink,
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
    _exit_if_failed(result.published, counter)


COMMANDS: list[click.Command] = [generate_command, produce_command, replay_command]

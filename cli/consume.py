"""Consumer commands: the worker, local ingest, the demo and the dead-letter topic."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click

from cli.common import describe_infrastructure_error, fail, get_settings
from cli.dlq import dlq_group
from cli.progress import LOG_INTERVAL_S, Advance, progress
from consumer.embedded import IngestReport, RejectedRow, from_messages, from_records, ingest_events
from consumer.errors import InfrastructureError
from consumer.metrics import ConsumerMetrics
from consumer.shutdown import StopFlag
from infra import bootstrap

log = logging.getLogger("sla_pipeline.consume")
T = TypeVar("T")


@contextmanager
def _infrastructure() -> Iterator[None]:
    try:
        yield
    except InfrastructureError as error:
        fail(describe_infrastructure_error(error, get_settings(click.get_current_context())))


@click.command("consume")
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Exit after this long with nothing to read.",
)
@click.option(
    "--max-events", type=click.IntRange(min=1), metavar="N", help="Exit after reading N messages."
)
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), help="Messages per batch [env SLA_BATCH_SIZE]."
)
@click.option(
    "--batch-wait",
    type=click.FloatRange(0.001, 60),
    metavar="SECONDS",
    help="Longest wait to fill a batch [env SLA_BATCH_WAIT_S].",
)
@click.option("--group", help="Consumer group [env SLA_CONSUMER_GROUP].")
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus /metrics on this port."
)
@click.option(
    "--metrics-addr", default="127.0.0.1", show_default=True, help="Address for --metrics-port."
)
@click.option(
    "--seek-to-database/--no-seek-to-database",
    default=True,
    show_default=True,
    help="On assignment, start at the database's offset when it is ahead of Kafka's.",
)
@click.pass_context
def consume_command(
    ctx: click.Context,
    until_idle: float | None,
    max_events: int | None,
    batch_size: int | None,
    batch_wait: float | None,
    group: str | None,
    metrics_port: int | None,
    metrics_addr: str,
    seek_to_database: bool,
) -> None:
    """Run a consumer-group worker: Kafka to the database until stopped.

    SIGTERM or Ctrl-C finishes the batch in hand, commits and leaves the group.
    Scale out by starting more workers with the same group.

    \b
    Example:
      sla-pipeline consume --metrics-port 9108
      sla-pipeline consume --until-idle 10
    """
    updates = {"batch_size": batch_size, "batch_wait_s": batch_wait, "consumer_group": group}
    settings = get_settings(ctx).model_copy(update={k: v for k, v in updates.items() if v})
    metrics = ConsumerMetrics()
    if metrics_port is not None:
        try:
            bound = metrics.serve(metrics_port, metrics_addr)
        except OSError as error:
            fail(f"cannot serve metrics on {metrics_addr}:{metrics_port}: {error}")
        # logged with the bound port: with --metrics-port 0 it is the only way to find it
        log.info("serving Prometheus metrics on http://%s:%d/metrics", metrics_addr, bound)
    with _infrastructure(), StopFlag() as stop:
        engine = bootstrap.migrated_engine(settings)
        worker = bootstrap.build_worker(
            settings,
            engine,
            until_idle_s=until_idle,
            max_events=max_events,
            metrics=metrics,
            stop=stop,
            seek_to_database=seek_to_database,
        )
        summary = worker.run()
        engine.dispose()
    click.echo(
        f"consumed {summary.consumed} messages in {summary.batches} batches: "
        f"{summary.outcome.applied} applied, {summary.outcome.duplicates} duplicates, "
        f"{summary.dead_lettered} dead-lettered ({summary.stopped_by})"
    )


#: Rejected rows shown one by one before the rest are only counted.
SHOWN_REJECTS = 5


@click.command("ingest")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("rejects.jsonl"),
    show_default=True,
    help="Where every invalid row is written (JSONL: where, reason, error, raw).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    help="Events per transaction [env SLA_BATCH_SIZE].",
)
@click.option(
    "--max-reject-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Exit 1 when a larger share of the rows is rejected (valid rows are applied anyway).",
)
@click.option(
    "--progress-interval",
    type=click.FloatRange(min=0.0),
    default=LOG_INTERVAL_S,
    show_default=True,
    metavar="SECONDS",
    help="How often to log progress when stderr is not a terminal.",
)
@click.pass_context
def ingest_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    rejects_path: Path,
    batch_size: int | None,
    max_reject_ratio: float,
    progress_interval: float,
) -> None:
    """Apply CSV or JSONL event files to the database, with no broker.

    Every file is checked first (readable, an event file, a CSV with every
    required column): if one is not, nothing is applied. Invalid rows are
    written to --rejects; the first few are shown as file:line, then a count
    per reason. Exits 1 when no row is a valid event, or when more than
    --max-reject-ratio of the rows are rejected.

    \b
    Example:
      sla-pipeline generate --orders 1000 --out data
      sla-pipeline ingest data/orders_new.csv data/logistics_updates.csv
    """
    from producer.file_reader import EventFileError, count_rows, read_event_files

    settings = get_settings(ctx)
    try:
        records = read_event_files(list(files))
    except EventFileError as exc:
        fail(str(exc))
    try:
        rejects = rejects_path.open("w", encoding="utf-8")
    except OSError as exc:
        fail(f"--rejects: cannot write {rejects_path}: {exc.strerror or exc}")
    total = count_rows(files)
    with (
        rejects,
        _infrastructure(),
        progress("ingest", total, "rows", interval_s=progress_interval) as advance,
    ):
        engine = bootstrap.migrated_engine(settings)

        def on_reject(row: RejectedRow) -> None:
            rejects.write(_reject_json(row) + "\n")
            if rejected.total() < SHOWN_REJECTS:
                click.echo(f"{row.where}: rejected ({row.reason.value}): {row.detail}", err=True)
            rejected[row.reason.value] += 1

        rejected: Counter[str] = Counter()
        report = ingest_events(
            from_records(_counted(records, advance)),
            bootstrap.unit_of_work_factory(engine),
            batch_size=batch_size or settings.batch_size,
            on_reject=on_reject,
        )
        engine.dispose()
    _echo_report(report)
    if report.rejected_total:
        _echo_rejects(rejected, rejects_path)
    _fail_on_rejects(report, max_reject_ratio, rejects_path)


def _counted(records: Iterable[T], advance: Advance) -> Iterator[T]:
    done = 0
    for done, record in enumerate(records, start=1):
        if not done & 4095:
            advance(done)
        yield record
    advance(done)


def _echo_rejects(rejected: Counter[str], rejects_path: Path) -> None:
    hidden = rejected.total() - SHOWN_REJECTS
    if hidden > 0:
        click.echo(f"... and {hidden} more rejected rows", err=True)
    by_reason = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common())
    click.echo(f"rejected rows by reason: {by_reason}", err=True)
    click.echo(f"{rejected.total()} rejected rows written to {rejects_path}")


def _fail_on_rejects(report: IngestReport, max_ratio: float, rejects_path: Path) -> None:
    """Exit 1 when the files were mostly not events: a wrong file, not a few bad rows."""
    rejected, rows = report.rejected_total, report.rows
    if not rejected:
        return
    if rejected == rows:
        fail(f"no valid events: all {rows} rows were rejected (see {rejects_path})")
    if rejected / rows > max_ratio:
        fail(
            f"{rejected} of {rows} rows rejected ({rejected / rows:.0%}), more than "
            f"--max-reject-ratio {max_ratio:g}; the valid rows were applied (see {rejects_path})"
        )


def _reject_json(row: RejectedRow) -> str:
    return json.dumps(
        {
            "where": row.where,
            "reason": row.reason.value,
            "error": row.detail,
            "raw": row.raw.decode("utf-8", "replace"),
        }
    )


def _echo_report(report: IngestReport) -> None:
    o = report.outcome
    click.echo(
        f"read {report.rows} rows: {o.applied} events applied, {o.duplicates} duplicates, "
        f"{o.orphaned} orphaned, {o.illegal} illegal on arrival, {report.rejected_total} rejected"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in sorted(report.rejected.items()))})"
            if report.rejected
            else ""
        )
    )


@click.command("demo")
@click.option(
    "--orders",
    type=click.IntRange(1, 1_000_000),
    default=2000,
    show_default=True,
    help="How many orders to simulate.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same run)."
)
@click.pass_context
def demo_command(ctx: click.Context, orders: int, seed: int) -> None:
    """Simulate orders with every fault on, ingest into the database (SQLite by
    default, ./sla.db) with no broker, and print a short SLA summary.

    \b
    Example:
      sla-pipeline demo --orders 5000 --seed 1
      sla-pipeline report
    """
    from cli.demo import fault_config, print_summary
    from producer.faults import inject_faults
    from producer.simulation import SimulationConfig, simulate

    settings = get_settings(ctx)
    stream = inject_faults(
        simulate(SimulationConfig(orders=orders, seed=seed)), fault_config(), seed
    )
    click.echo(
        f"simulated {orders} orders: {len(stream.messages)} messages "
        f"({sum(stream.fault_counts().values())} with faults)"
    )
    with _infrastructure():
        engine = bootstrap.migrated_engine(settings)
        report = ingest_events(
            from_messages((m.key, m.value) for m in stream.messages),
            bootstrap.unit_of_work_factory(engine),
            batch_size=settings.batch_size,
        )
        _echo_report(report)
        print_summary(engine, settings.masked_database_url())
        engine.dispose()


COMMANDS: list[click.Command] = [consume_command, ingest_command, demo_command, dlq_group]

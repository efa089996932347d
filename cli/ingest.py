"""``sla-pipeline ingest``: apply event files to the database with no broker."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import click

from cli.config import get_settings
from cli.errors import fail, infrastructure_errors
from cli.ingest_summary import echo_ingest_report
from cli.progress import LOG_INTERVAL_S, Advance, progress
from consumer.embedded import (
    INGEST_BATCH_SIZE,
    IngestReport,
    RejectedRow,
    from_records,
    ingest_events,
)
from consumer.tuning import interpreter_tuned
from infra import bootstrap
from infra.settings import Settings

T = TypeVar("T")

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
    help=f"Events per transaction [env SLA_BATCH_SIZE; default {INGEST_BATCH_SIZE:,}].",
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
        infrastructure_errors(settings),
        progress("ingest", total, "rows", interval_s=progress_interval) as advance,
        interpreter_tuned(),  # this process runs only the ingest
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
            batch_size=batch_size or _transaction_size(settings),
            on_reject=on_reject,
        )
        engine.dispose()
    echo_ingest_report(report, settings)
    if report.rejected_total:
        _echo_rejects(rejected, rejects_path)
    _fail_on_rejects(report, max_reject_ratio, rejects_path)


def _transaction_size(settings: Settings) -> int:
    """SLA_BATCH_SIZE when it is set, else :data:`INGEST_BATCH_SIZE` (the workers'
    default batch is sized for latency, which a file run does not have)."""
    if "batch_size" in settings.model_fields_set:
        return settings.batch_size
    return INGEST_BATCH_SIZE


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


COMMANDS: list[click.Command] = [ingest_command]

"""``sla-pipeline generate``: simulate orders and write their events to files."""

from __future__ import annotations

from pathlib import Path

import click

from cli.errors import fail
from cli.progress import progress
from cli.simulation_options import (
    echo_seed,
    estimated_events,
    fault_options,
    fault_rates,
    simulation_config,
    simulation_options,
)
from producer.files import write_csv_events, write_jsonl_lines
from producer.publish import planned_events, planned_lines
from producer.simulation import DEFAULT_START

JSONL_FILE = "events.jsonl"
#: Below about this many events a progress bar is noise.
PROGRESS_MIN = 10_000


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
    config = simulation_config(orders, seed, start, orders_per_hour, DEFAULT_START)
    faults = fault_rates(rates)
    try:
        total = estimated_events(config, faults)
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
    echo_seed(seed, config)
    if summary.skipped:
        what = "malformed" if file_format == "csv" else "malformed (not line-safe)"
        click.echo(f"skipped {summary.skipped} {what} messages that this format cannot hold")


COMMANDS: list[click.Command] = [generate_command]

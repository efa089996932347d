"""``sla-pipeline report``: delivery SLA figures as a table, JSON, CSV or an HTML page."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cli.config import get_settings
from cli.errors import describe_database_error, fail
from infra import bootstrap
from infra.db.standby import standby_status
from infra.reporting.aggregate_sql import DIMENSIONS
from infra.reporting.queries import build_report
from infra.reporting.render_html import HTML_BREAKDOWNS, render_html
from infra.reporting.render_json_csv import render_csv, render_json
from infra.reporting.render_table import render_table
from infra.settings import Settings

FORMATS = ("table", "json", "csv", "html")
#: Output that is not a terminal is never cut: lines may be as long as their values.
_UNBOUNDED_WIDTH = 10_000


def parse_as_of(value: str | None, option: str = "--as-of") -> datetime:
    """``--as-of``: ISO-8601 (an instant without offset is UTC) or ``now``; fails readably."""
    if value is None or value.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO-8601 time such as 2024-06-01T12:00:00Z")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_by(values: tuple[str, ...]) -> list[tuple[str, ...]]:
    """``--by``: each value one breakdown; ``a,b`` groups by both. Fails on an unknown name."""
    result: list[tuple[str, ...]] = []
    for value in values:
        names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
        unknown = [n for n in names if n not in DIMENSIONS]
        if unknown or not names:
            fail(f"--by: {value!r} is not one of {', '.join(DIMENSIONS)} (or a comma list)")
        if len(set(names)) != len(names):
            fail(f"--by: {value!r} names a dimension twice")
        result.append(names)
    return result


@click.command("report")
@click.option(
    "--as-of", "as_of", metavar="TIME", help="Evaluate at this instant (ISO-8601; default now)."
)
@click.option(
    "--since",
    metavar="TIME",
    help="Only orders created at or after this instant (ISO-8601).",
)
@click.option(
    "--until",
    metavar="TIME",
    help="Only orders created before this instant (ISO-8601).",
)
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="DIM[,DIM]",
    help="Breakdown by day, carrier, region or tier; repeat for several, comma to combine.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for a terminal; json or csv for tools; html for a page with charts.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--limit",
    type=click.IntRange(0, 100_000),
    default=50,
    show_default=True,
    help="At most this many orders in the at-risk list.",
)
@click.option(
    "--report-database-url",
    "report_url",
    metavar="URL",
    help="Read from this database (a hot standby, say) [env SLA_REPORT_DATABASE_URL; "
    "default the database URL].",
)
@click.pass_context
def report_command(
    ctx: click.Context,
    as_of: str | None,
    since: str | None,
    until: str | None,
    by: tuple[str, ...],
    fmt: str,
    out: Path | None,
    limit: int,
    report_url: str | None,
) -> None:
    """Report delivery SLAs: counts, on-time rate, lead-time percentiles, breaches, at-risk list.

    Reads the database (run `sla-pipeline db upgrade` first), or the report database when
    one is set; read from a standby, it says how far behind the standby is. Times are UTC;
    see docs/sla.md for definitions and the JSON/CSV shapes. With --as-of every figure
    and listed order (status, milestones, failures) is the one at that instant, as
    recorded in order_history.

    \b
    Example:
      sla-pipeline report --by carrier --by region,tier
      sla-pipeline report --as-of 2025-01-07T06:00Z --since 2025-01-01 --until 2025-01-06
      sla-pipeline report --as-of 2025-01-20T00:00:00Z --format html --out sla.html
    """
    settings = get_settings(ctx)
    if report_url is not None:
        settings = with_report_url(settings, report_url)
    instant = parse_as_of(as_of)
    start = parse_as_of(since, "--since") if since is not None else None
    end = parse_as_of(until, "--until") if until is not None else None
    if start is not None and end is not None and start >= end:
        fail(f"--since {since} is not before --until {until}: no order can be in the window")
    breakdowns = parse_by(by)
    if fmt == "html":
        breakdowns += [b for b in HTML_BREAKDOWNS if b not in breakdowns]
    masked = settings.masked_report_database_url()
    try:
        engine = bootstrap.report_engine(settings)
    except (ArgumentError, NotImplementedError) as exc:
        fail(f"database URL {masked}: {exc}")
    try:
        with engine.connect() as conn:
            standby = standby_status(conn)
        report = build_report(
            engine,
            instant,
            breakdowns,
            at_risk_limit=limit,
            histogram=True,
            since=start,
            until=end,
        )
    except SQLAlchemyError as exc:
        fail(describe_database_error(exc, masked, "compute the report"))
    finally:
        engine.dispose()
    if standby is not None:  # on every format: figures from a lagging copy must say so
        click.echo(f"note: {standby.describe()}", err=True)
    if report.stale_note and fmt != "json":
        click.echo(f"note: {report.stale_note}", err=True)  # JSON carries it as "as_of_note"
    if fmt == "table":
        target = out.open("w", encoding="utf-8") if out else sys.stdout
        try:
            render_table(report, _console(target))
        finally:
            if out:
                target.close()
        return
    text = {"json": render_json, "csv": render_csv, "html": render_html}[fmt](report)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}")


def with_report_url(settings: Settings, url: str) -> Settings:
    """``settings`` reading reports from ``url``; fails readably on a URL that is not one."""
    try:
        return Settings(**{**settings.model_dump(), "report_database_url": url})
    except ValidationError:
        fail("--report-database-url: not a valid SQLAlchemy database URL")


def _console(target: TextIO) -> Console:
    """A console for ``target``: a terminal's own width, else wide enough for every value.

    Rich lays a file or pipe out at 80 columns and cuts cells to fit ("carri…"):
    ``report > file.txt`` would lose data. Tables take only the width they need.
    """
    probe = Console(file=target)
    if probe.is_terminal:
        return probe
    return Console(file=target, width=_UNBOUNDED_WIDTH, color_system=None)


COMMANDS: list[click.Command] = [report_command]

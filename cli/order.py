"""``sla-pipeline order``: one order's story from its history."""

from __future__ import annotations

import click
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cli.config import get_settings
from cli.errors import describe_database_error, fail
from cli.report import parse_as_of
from infra import bootstrap
from infra.reporting.render_story import render_story_json, render_story_text
from infra.reporting.story import load_story


@click.command("order")
@click.argument("order_id")
@click.option(
    "--as-of", "as_of", metavar="TIME", help="Tell the story up to this instant (default now)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="text for a person; json for tools.",
)
@click.pass_context
def order_command(ctx: click.Context, order_id: str, as_of: str | None, fmt: str) -> None:
    """Tell one order's story: every event, its arrival, legality and the SLA clock.

    Events come from order_history in precedence order (event time, status rank,
    event id). After each one the SLA clock (state, deadline, time left, at-risk
    reason) is computed as of that event's time; the end names the status and
    the rule that decided the SLA state. An unknown order exits 1.

    \b
    Example:
      sla-pipeline order ORD-5-0000079
      sla-pipeline order ORD-5-0000079 --as-of 2025-01-07T06:00Z --format json
    """
    settings = get_settings(ctx)
    instant = parse_as_of(as_of)
    masked = settings.masked_report_database_url()
    try:
        engine = bootstrap.report_engine(settings)
    except (ArgumentError, NotImplementedError) as exc:
        fail(f"database URL {masked}: {exc}")
    try:
        story = load_story(engine, order_id, instant)
    except SQLAlchemyError as exc:
        fail(describe_database_error(exc, masked, "read the order"))
    finally:
        engine.dispose()
    if story is None:
        until = f"{instant:%Y-%m-%d %H:%M} UTC"
        fail(f"order {order_id!r}: no event of it in order_history up to {until}")
    click.echo(render_story_json(story) if fmt == "json" else render_story_text(story), nl=False)


COMMANDS: list[click.Command] = [order_command]

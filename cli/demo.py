"""``sla-pipeline demo``: simulate, ingest with no broker, print a short SLA summary.

The summary is the report's own totals (``build_report``, with the database's
``sla_policy``), so ``demo`` and ``report --as-of`` always agree.
"""

from __future__ import annotations

import click
from sqlalchemy import Engine

from cli.config import get_settings
from cli.errors import infrastructure_errors
from cli.ingest_summary import echo_ingest_report
from consumer.embedded import from_messages, ingest_events
from infra import bootstrap
from infra.db.summary import final_state
from infra.reporting.aggregate_sql import STATES
from infra.reporting.queries import build_report
from infra.reporting.render_json_csv import iso_utc
from infra.reporting.render_table import percent
from producer.faults import FaultConfig

#: The report's SLA states in words (docs/sla.md): "lost" includes returned to sender.
STATE_WORDS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "breached": "breached (open, past deadline)",
    "met": "delivered on time",
    "missed": "delivered late",
    "cancelled": "cancelled",
    "lost": "lost or returned",
}


def fault_config() -> FaultConfig:
    """Every fault on, at rates a real feed might show on a bad day."""
    return FaultConfig(
        duplicate_rate=0.05,
        reorder_rate=0.10,
        late_rate=0.03,
        orphan_rate=0.05,
        malformed_rate=0.01,
        illegal_rate=0.02,
        oversized_rate=0.002,
    )


def print_summary(engine: Engine) -> None:
    """The report's SLA totals as of the newest event (the figures `report --as-of` prints)."""
    with engine.connect() as conn:
        as_of = final_state(conn).newest_event_at
    if as_of is None:
        return
    totals = build_report(engine, as_of).totals
    at = iso_utc(as_of)
    click.echo(f"SLA of {totals['orders']} orders as of the newest event, {at}:")
    click.echo(f"  (`sla-pipeline report --as-of {at}` shows the full report)")
    width = max(len(words) for words in STATE_WORDS.values())
    for state in STATES:
        click.echo(f"  {STATE_WORDS[state]:<{width}}  {totals[state]:>7}")
    click.echo(
        f"on-time rate {percent(totals['on_time_rate'])} = delivered on time / "
        f"(delivered + lost or returned + breached), of {totals['decided']} decided orders"
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
    with infrastructure_errors(settings):
        engine = bootstrap.migrated_engine(settings)
        report = ingest_events(
            from_messages((m.key, m.value) for m in stream.messages),
            bootstrap.unit_of_work_factory(engine),
            batch_size=settings.batch_size,
        )
        echo_ingest_report(report, settings)
        print_summary(engine)
        engine.dispose()


COMMANDS: list[click.Command] = [demo_command]

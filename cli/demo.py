"""The demo's fault mix and its short SLA summary (the full report is ``sla-pipeline report``)."""

from __future__ import annotations

import click
from sqlalchemy import Engine

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

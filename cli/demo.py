"""The demo's fault mix and its short SLA summary (the full report is ``sla-pipeline report``)."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from domain.sla import DEFAULT_POLICY, SlaState, evaluate_all, on_time_rate
from infra.db.summary import latest_event_time, sla_inputs, status_counts, table_counts
from producer.faults import FaultConfig


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


def print_summary(engine: Engine, where: str) -> None:
    """Counts by status and the on-time rate (default tier policy, as of the newest event)."""
    with engine.connect() as conn:
        counts = table_counts(conn)
        statuses = status_counts(conn)
        orders = sla_inputs(conn)
        as_of = latest_event_time(conn)
    click.echo(
        f"\ndatabase {where}: {counts['orders']} orders, {counts['events']} events, "
        f"{counts['awaiting_creation']} awaiting creation, "
        f"{counts['illegal_transitions']} illegal transitions recorded"
    )
    width = max((len(s) for s in statuses), default=6)
    click.echo("orders by status:")
    for status, count in sorted(statuses.items(), key=lambda item: -item[1]):
        click.echo(f"  {status:<{width}}  {count:>7}")
    if as_of is None:
        return
    slas = evaluate_all(orders, DEFAULT_POLICY, as_of)
    states = [sla.state for sla in slas]
    delivered = [s for s in states if s in (SlaState.MET, SlaState.MISSED)]
    met = sum(1 for s in delivered if s is SlaState.MET)
    if delivered:
        click.echo(
            f"delivered on time: {met}/{len(delivered)} = {met / len(delivered):.1%} "
            f"(explicit promise, else the default tier policy)"
        )
    rate = on_time_rate(states)
    if rate is not None:
        click.echo(
            f"on-time rate of decided orders (met / met+missed+lost+breached): {rate:.1%}"
            f" as of {as_of:%Y-%m-%d %H:%M} UTC"
        )

"""The report as terminal tables (rich): totals, one table per breakdown, the at-risk list."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from infra.reporting.aggregate_sql import STATES
from infra.reporting.model import SlaReport
from infra.reporting.render_json_csv import iso_utc

Metrics = dict[str, int | float | None]


def hours(seconds: float | int | None) -> str:
    """Seconds as hours with one decimal ("36.5 h"); "-" when missing."""
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def due(lateness_s: float) -> str:
    """Where an open order stands against its deadline: "late by 3.2 h", "due in 1.5 h"
    or "due now" (within 0.05 h either way, which would print as 0.0 h)."""
    shown = f"{abs(lateness_s) / 3600:.1f}"
    if shown == "0.0":
        return "due now"
    return f"late by {shown} h" if lateness_s > 0 else f"due in {shown} h"


def percent(rate: float | int | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


#: Short headers so the counts table fits 80 columns.
SHORT = {"on_track": "track", "at_risk": "risk", "breached": "breach", "cancelled": "cancel"}


def _number(seconds: float | int | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}"


def _titled(title: str) -> Table:
    # at least as wide as its title, which would otherwise wrap over a narrow table
    return Table(title=title, title_justify="left", box=box.SIMPLE, min_width=len(title))


def _tables(title: str, by: tuple[str, ...], rows: list[tuple[list[str], Metrics]]) -> list[Table]:
    # Counts and durations in two narrow tables so each fits an 80-column terminal.
    counts = _titled(f"{title}: orders by SLA state")
    durations = _titled(f"{title}: durations in hours (p50 / p90 / p95)")
    for table in (counts, durations):
        for name in by:
            table.add_column(name)
    counts.add_column("orders", justify="right")
    counts.add_column("on time", justify="right")
    for state in STATES:
        counts.add_column(SHORT.get(state, state), justify="right")
    for label in ("lead time", "to ship", "in transit"):
        durations.add_column(label, justify="right")
    for key, m in rows:
        counts.add_row(
            *key, str(m["orders"]), percent(m["on_time_rate"]), *(str(m[s]) for s in STATES)
        )
        durations.add_row(
            *key,
            *(
                " / ".join(_number(m[f"{metric}_{p}_s"]) for p in ("p50", "p90", "p95"))
                for metric in ("lead_time", "time_to_ship", "time_in_transit")
            ),
        )
    return [counts, durations]


def render_table(report: SlaReport, console: Console) -> None:
    """Print the report on ``console`` (writes only to the console's file)."""
    console.print(f"[bold]Delivery SLA report[/bold] as of {iso_utc(report.as_of)}")
    console.print(
        "on time = met / (met + missed + lost + breached); cancelled and open orders excluded"
    )
    if report.created_since or report.created_until:
        since, until = iso_utc(report.created_since), iso_utc(report.created_until)
        console.print(f"orders created from {since or 'the first'} until {until or 'the last'}")
    if report.after_as_of_note:
        console.print(report.after_as_of_note)
    for table in _tables("All orders", (), [([], report.totals)]):
        console.print(table)
    for breakdown in report.breakdowns:
        rows = [([row.key[n] for n in breakdown.by], row.metrics) for row in breakdown.rows]
        for table in _tables(f"By {' + '.join(breakdown.by)}", breakdown.by, rows):
            console.print(table)
    shown = len(report.at_risk_orders)
    at_risk = _titled(
        f"At risk or breached: {report.at_risk_total} open orders"
        + (f" (first {shown} by deadline)" if shown < report.at_risk_total else "")
    )
    for column in ("order", "state", "reason", "status", "carrier", "deadline (UTC)"):
        at_risk.add_column(column, no_wrap=column in {"order", "deadline (UTC)"})
    at_risk.add_column("deadline", justify="right", no_wrap=True)
    for o in report.at_risk_orders:
        at_risk.add_row(
            o.order_id,
            o.sla_state,
            o.reason,
            o.status,
            o.carrier,
            o.deadline_at.strftime("%Y-%m-%d %H:%M"),
            due(o.lateness_s),
        )
    console.print(at_risk)

"""The report as one self-contained HTML file: KPIs, four charts, tables, the at-risk list.

Charts are inline SVG drawn here; the page loads nothing from the network. It
needs the ``day``, ``carrier`` and ``region`` breakdowns (see :data:`HTML_BREAKDOWNS`);
a chart without data says so in one line. Every duration is in hours.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from infra.reporting import svg
from infra.reporting.html_assets import SCRIPT, STYLE
from infra.reporting.model import Breakdown, SlaReport
from infra.reporting.render_table import Metrics, due, hours, percent

HTML_BREAKDOWNS: tuple[tuple[str, ...], ...] = (("day",), ("carrier",), ("region",), ("tier",))
AT_RISK_COLOR = "#d69e2e"  # bars only: as text it is too light (see html_assets.STYLE)
BREACHED_COLOR = "#c53030"


def readable(at: datetime) -> str:
    """An instant for people: ``2024-03-11 12:00 UTC`` (to the minute)."""
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _kpis(totals: Metrics, at_risk_total: int) -> str:
    tiles = [
        ("orders", str(totals["orders"])),
        ("on-time rate", percent(totals["on_time_rate"])),
        ("lead time p50", hours(totals["lead_time_p50_s"])),
        ("lead time p90", hours(totals["lead_time_p90_s"])),
        ("lead time p95", hours(totals["lead_time_p95_s"])),
        ("ship time p50", hours(totals["time_to_ship_p50_s"])),
        ("breached (open)", str(totals["breached"])),
        ("at risk or breached", str(at_risk_total)),
    ]
    body = "".join(
        f'<div class="kpi"><div class="v">{escape(v)}</div><div class="l">{escape(k)}</div></div>'
        for k, v in tiles
    )
    return f'<div class="kpis">{body}</div>'


def _rows(breakdown: Breakdown | None) -> list[tuple[str, Metrics]]:
    if breakdown is None:
        return []
    return [(" / ".join(r.key[n] for n in breakdown.by), r.metrics) for r in breakdown.rows]


def _charts(report: SlaReport) -> str:
    days = _rows(report.breakdown("day"))
    day_labels = [d for d, _ in days]  # YYYY-MM-DD: a report may span a new year
    on_time = svg.line_chart(
        "on-time-by-day",
        "On-time rate by day of order creation",
        day_labels,
        [m["on_time_rate"] for _, m in days],
        ("day of order creation (UTC)", "on time (%)"),
    )
    buckets = report.lead_time_histogram
    distribution = svg.bar_chart(
        "lead-time-distribution",
        "Delivered orders by lead time",
        [f"{b.low_hours}-{b.high_hours}" if b.high_hours else f"{b.low_hours}+" for b in buckets],
        [svg.Series("orders", "#2b6cb0", [b.orders for b in buckets])],
        ("lead time, creation to delivery (hours)", "delivered orders"),
        " orders",
    )
    compared = [
        svg.hbar_chart(
            f"{name}-compared",
            f"On-time rate by {name}",
            [
                (
                    key,
                    m["on_time_rate"],
                    f"lead p50 {hours(m['lead_time_p50_s'])} · {m['orders']} orders",
                )
                for key, m in _rows(report.breakdown(name))
            ],
            "on time (%) = met / decided orders",
        )
        for name in ("carrier", "region")
    ]
    backlog = svg.bar_chart(
        "at-risk-backlog",
        "Open orders at risk or breached, by day of creation",
        day_labels,
        [
            svg.Series("at risk", AT_RISK_COLOR, [float(m["at_risk"] or 0) for _, m in days]),
            svg.Series("breached", BREACHED_COLOR, [float(m["breached"] or 0) for _, m in days]),
        ],
        ("day of order creation (UTC)", "open orders"),
    )
    cards = [
        ("On-time rate by day of order creation", on_time),
        ("Lead-time distribution (delivered orders)", distribution),
        ("Carriers compared: on-time rate", compared[0]),
        ("Regions compared: on-time rate", compared[1]),
        ("At-risk backlog by day of order creation", backlog),
    ]
    body = "".join(f'<div class="card"><h2>{escape(t)}</h2>{chart}</div>' for t, chart in cards)
    return f'<div class="grid2">{body}</div>'


def _table(title: str, breakdown: Breakdown) -> str:
    head = "".join(f'<th class="t">{escape(n)}</th>' for n in breakdown.by)
    head += "".join(
        f"<th>{h}</th>"
        for h in (
            "orders",
            "on time",
            "met",
            "missed",
            "lost",
            "breached",
            "at risk",
            "cancelled",
            "lead p50",
            "lead p90",
            "lead p95",
            "ship p50",
            "transit p50",
        )
    )
    body = []
    for row in breakdown.rows:
        m = row.metrics
        cells = [f'<td class="t">{escape(row.key[n])}</td>' for n in breakdown.by]
        cells += [f"<td>{escape(str(m[k]))}</td>" for k in ("orders",)]
        cells.append(f"<td>{percent(m['on_time_rate'])}</td>")
        cells += [
            f"<td>{m[k]}</td>"
            for k in ("met", "missed", "lost", "breached", "at_risk", "cancelled")
        ]
        cells += [
            f"<td>{hours(m[k])}</td>"
            for k in (
                "lead_time_p50_s",
                "lead_time_p90_s",
                "lead_time_p95_s",
                "time_to_ship_p50_s",
                "time_in_transit_p50_s",
            )
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="card"><h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _at_risk(report: SlaReport) -> str:
    head = "".join(
        f'<th class="t">{h}</th>'
        for h in (
            "order",
            "state",
            "reason",
            "status",
            "tier",
            "carrier",
            "region",
            "deadline (UTC)",
        )
    )
    rows = []
    for o in report.at_risk_orders:
        late = due(o.lateness_s)
        cells = [
            o.order_id,
            o.sla_state.replace("_", " "),
            o.reason,
            o.status,
            o.shipping_tier,
            o.carrier,
            o.destination_region,
            o.deadline_at.strftime("%Y-%m-%d %H:%M"),
        ]
        tds = "".join(f'<td class="t">{escape(c)}</td>' for c in cells)
        rows.append(f'<tr class="{escape(o.sla_state)}">{tds}<td>{escape(late)}</td></tr>')
    shown = len(report.at_risk_orders)
    title = f"At risk or breached: {report.at_risk_total} open orders"
    if shown < report.at_risk_total:
        title += f" (first {shown} by deadline)"
    return (
        f'<div class="card"><h2>{escape(title)}</h2><table><thead><tr>{head}<th>deadline</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_html(report: SlaReport) -> str:
    """The whole page as a string (UTF-8 text, no external references)."""
    as_of = readable(report.as_of)
    notes = "".join(
        f'<div class="note">{escape(note)}</div>'
        for note in (report.stale_note, report.after_as_of_note)
        if note
    )
    tables = "".join(
        _table(f"By {' + '.join(b.by)}", b) for b in report.breakdowns if b.by != ("day",)
    )
    day = report.breakdown("day")
    if day is not None:
        tables += _table("By day of order creation", day)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Delivery SLA report as of {escape(as_of)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Delivery SLA report</h1>
<div class="sub">as of {escape(as_of)} &middot; on-time rate = met / (met + missed + lost +
breached); cancelled and still-open orders are not counted &middot; percentiles by linear
interpolation</div>
{notes}
{_kpis(report.totals, report.at_risk_total)}
{_charts(report)}
{tables}
{_at_risk(report)}
<div id="render-status" hidden data-charts="0" data-drawn="0"></div>
<script>{SCRIPT}</script>
</body></html>
"""

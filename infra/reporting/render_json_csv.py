"""The report as JSON and CSV: stable shapes documented in docs/sla.md.

Durations are seconds rounded to the millisecond (3 decimals), rates fractions
in [0, 1] rounded to 6 decimals, times ISO-8601 UTC with a ``Z``; a figure that
cannot be computed (no delivered order) is null / an empty CSV cell. New
fields may be added; existing ones keep their meaning.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from infra.reporting.aggregate_sql import DIMENSIONS, METRIC_COLUMNS
from infra.reporting.model import AtRiskOrder, SlaReport

SCHEMA_VERSION = 1
#: Decimals kept: seconds to the millisecond, rates to a ten-thousandth of a percent.
SECONDS_DECIMALS = 3
RATE_DECIMALS = 6


def rounded(name: str, value: int | float | None) -> int | float | None:
    """A metric named ``name`` without float noise (``...85490000003``); ints unchanged."""
    if not isinstance(value, float):
        return value
    return round(value, SECONDS_DECIMALS if name.endswith("_s") else RATE_DECIMALS)


def _metrics(metrics: dict[str, int | float | None]) -> dict[str, int | float | None]:
    return {name: rounded(name, value) for name, value in metrics.items()}


def iso_utc(at: datetime | None) -> str | None:
    """``at`` as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``; None stays None."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _order(order: AtRiskOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "sla_state": order.sla_state,
        "at_risk_reason": order.at_risk_reason,
        "status": order.status,
        "shipping_tier": order.shipping_tier,
        "carrier": order.carrier,
        "region": order.destination_region,
        "created_at": iso_utc(order.created_at),
        "deadline_at": iso_utc(order.deadline_at),
        "shipped_at": iso_utc(order.shipped_at),
        "failed_attempts": order.failed_attempts,
        "lateness_s": round(order.lateness_s, SECONDS_DECIMALS),
        "reason": order.reason,
    }


def report_dict(report: SlaReport) -> dict[str, Any]:
    """The JSON document as plain Python values."""
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of": iso_utc(report.as_of),
        "created_since": iso_utc(report.created_since),
        "created_until": iso_utc(report.created_until),
        "newest_order_at": iso_utc(report.newest_order_at),
        "as_of_note": report.stale_note,
        "orders_after_as_of": report.orders_after_as_of,
        "percentile_method": "linear",
        "totals": _metrics(report.totals),
        "breakdowns": [
            {"by": list(b.by), "rows": [{**row.key, **_metrics(row.metrics)} for row in b.rows]}
            for b in report.breakdowns
        ],
        "at_risk": {
            "total": report.at_risk_total,
            "orders": [_order(o) for o in report.at_risk_orders],
        },
        "lead_time_histogram": [
            {"low_hours": b.low_hours, "high_hours": b.high_hours, "orders": b.orders}
            for b in report.lead_time_histogram
        ],
    }


def render_json(report: SlaReport) -> str:
    """One JSON document (indented, keys in a fixed order) ending with a newline."""
    return json.dumps(report_dict(report), indent=2) + "\n"


#: CSV header: which breakdown a row belongs to, its key columns, then the metrics.
CSV_COLUMNS: tuple[str, ...] = ("breakdown", *DIMENSIONS, *METRIC_COLUMNS)


def render_csv(report: SlaReport) -> str:
    """Aggregates as CSV: a ``total`` row, then each breakdown's rows (at-risk list not included).

    ``breakdown`` is ``total`` or the dimensions joined with ``+`` (e.g. ``day+tier``);
    dimension columns not in a row's breakdown are empty.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"breakdown": "total", **_cells(report.totals)})
    for breakdown in report.breakdowns:
        for row in breakdown.rows:
            writer.writerow({"breakdown": "+".join(breakdown.by), **row.key, **_cells(row.metrics)})
    return out.getvalue()


def _cells(metrics: dict[str, int | float | None]) -> dict[str, str]:
    return {k: "" if v is None else str(rounded(k, v)) for k, v in metrics.items()}

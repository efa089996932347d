"""A small event stream whose orders change a lot after a chosen instant.

Orders are created an hour apart from :data:`BASE` (standard tier: 5-day promise);
each has one delivery failure before :data:`AT` for the first 24 orders, then ends
after it: delivered, returned to sender, or failed once more and returned. So at
:data:`AT` many are breached while their current status is final.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = datetime(2025, 1, 1, tzinfo=UTC)
AT = BASE + timedelta(days=6)
ORDERS = 30

_COMMON = (
    ("approved", timedelta(hours=1)),
    ("processing", timedelta(hours=2)),
    ("packed", timedelta(hours=3)),
    ("shipped", timedelta(days=1)),
    ("in_transit", timedelta(days=1, hours=2)),
    ("out_for_delivery", timedelta(days=4, hours=12)),
    ("delivery_failed", timedelta(days=4, hours=18)),
)
_ENDINGS = (
    (("out_for_delivery", timedelta(days=6, hours=2)), ("delivered", timedelta(days=6, hours=6))),
    (("returned_to_sender", timedelta(days=6, hours=6)),),
    (
        ("out_for_delivery", timedelta(days=6, hours=2)),
        ("delivery_failed", timedelta(days=6, hours=8)),
        ("returned_to_sender", timedelta(days=7)),
    ),
)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_id(n: int) -> str:
    return f"CRAFT-{n:03d}"


def _event_id(order: str, step: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{order}/{step}"))


def events() -> list[dict[str, object]]:
    """Every event of the stream, in no particular order of time."""
    result: list[dict[str, object]] = []
    for n in range(ORDERS):
        order, created = order_id(n), BASE + timedelta(hours=n)
        result.append(
            {
                "event_id": _event_id(order, 0), "schema_version": 1, "order_id": order,
                "occurred_at": iso(created), "event_type": "order-created",
                "customer_id": f"C-{n}", "customer_name": "Ada Lovelace",
                "product_sku": "SKU-1", "product_name": "Kettle", "quantity": 1,
                "unit_price": "25.00", "currency": "EUR", "shipping_tier": "standard",
                "carrier": "BLUELINE", "destination_region": "North",
                "promised_delivery_at": None,
            }
        )  # fmt: skip
        for step, (status, after) in enumerate((*_COMMON, *_ENDINGS[n % 3]), start=1):
            result.append(
                {
                    "event_id": _event_id(order, step), "schema_version": 1,
                    "order_id": order, "occurred_at": iso(created + after),
                    "event_type": "status-changed", "status": status,
                }
            )  # fmt: skip
    return result


def write(path: Path, until: datetime | None = None) -> Path:
    """The stream as JSON Lines (only events up to ``until`` when given)."""
    lines = [
        json.dumps(e, separators=(",", ":")) + "\n"
        for e in events()
        if until is None or datetime.fromisoformat(str(e["occurred_at"])) <= until
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path

"""Raw (key, value) messages as a foreign producer would send them, for the reference model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)  # a Monday


Message = tuple[bytes | None, bytes | None]


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def created(n: int, order: str = "O-1", hours: float = 0, **extra: Any) -> Message:
    doc = {
        "event_id": event_id(n), "event_type": "order-created", "schema_version": 1,
        "order_id": order, "occurred_at": (T0 + timedelta(hours=hours)).isoformat(),
        "customer_id": "C-1", "customer_name": "Ada", "product_sku": "SKU-1",
        "product_name": "Lamp", "quantity": 2, "unit_price": "19.90", "currency": "EUR",
        "shipping_tier": "standard", "carrier": "dhl", "destination_region": "EU-West",
        **extra,
    }  # fmt: skip
    return order.encode(), json.dumps(doc).encode()


def changed(n: int, status: str, hours: float, order: str = "O-1") -> Message:
    doc = {
        "event_id": event_id(n), "event_type": "status-changed", "schema_version": 1,
        "order_id": order, "occurred_at": (T0 + timedelta(hours=hours)).isoformat(),
        "status": status,
    }  # fmt: skip
    return order.encode(), json.dumps(doc).encode()

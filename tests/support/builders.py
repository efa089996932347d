"""Domain events with readable defaults, for tests that need a valid order or status change."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from domain.events import (
    OrderCreated,
    ShippingTier,
    StatusChanged,
)
from domain.lifecycle import OrderStatus as S

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


_ids = itertools.count(1)


def eid(n: int | None = None) -> UUID:
    """A readable, ordered event id (``...0001``, ``...0002``...)."""
    return UUID(int=n if n is not None else next(_ids) + 10_000)


def created(
    order_id: str = "ORD-1", hours: float = 0, event_id: UUID | None = None, **kw: object
) -> OrderCreated:
    fields: dict[str, object] = {
        "event_id": event_id or uuid4(),
        "order_id": order_id,
        "occurred_at": T0 + timedelta(hours=hours),
        "customer_id": "C-1",
        "customer_name": "Ada Lovelace",
        "product_sku": "SKU-1",
        "product_name": "Widget",
        "quantity": 2,
        "unit_price": Decimal("9.99"),
        "currency": "EUR",
        "shipping_tier": ShippingTier.STANDARD,
        "carrier": "dhl",
        "destination_region": "EU-West",
    }
    fields.update(kw)
    return OrderCreated.model_validate(fields)


def changed(
    status: S, order_id: str = "ORD-1", hours: float = 1, event_id: UUID | None = None
) -> StatusChanged:
    return StatusChanged(
        event_id=event_id or uuid4(),
        order_id=order_id,
        occurred_at=T0 + timedelta(hours=hours),
        status=status,
    )


def fixed_created() -> OrderCreated:
    return OrderCreated(
        event_id=UUID(int=1, version=4),
        order_id="ORD-1",
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
        customer_id="C1",
        customer_name="Ada",
        product_sku="SKU-1",
        product_name="Mug",
        quantity=1,
        unit_price=Decimal("12.00"),
        currency="EUR",
        shipping_tier=ShippingTier.STANDARD,
        carrier="SWIFTPOST",
        destination_region="Midlands",
    )

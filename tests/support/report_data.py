"""Seeded orders for report tests: their SLA inputs, and the sales/history rows that hold them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from domain.events import ShippingTier
from domain.lifecycle import RANK, OrderStatus
from domain.sla import SlaInput
from infra.db.models import OrderHistory, Sale

AS_OF = datetime(2024, 3, 11, 12, 0, 0, 250_000, tzinfo=UTC)


CARRIERS = ("dhl", "ups", "fedex", "gls")


REGIONS = ("EU-West", "EU-East", "US", "APAC", "LATAM")


def _jitter(rng: random.Random, hours: float) -> timedelta:
    return timedelta(microseconds=rng.randrange(int(hours * 3_600_000_000)) + 1)


def make_orders(seed: int, count: int, as_of: datetime = AS_OF) -> list[tuple[SlaInput, str, str]]:
    """``(order, carrier, region)`` with every kind of ending, some past ``as_of``."""
    rng = random.Random(seed)
    orders = []
    tiers = list(ShippingTier)
    for n in range(count):
        created = as_of - timedelta(days=10) + _jitter(rng, 10.5 * 24)
        tier = tiers[n % len(tiers)]
        promise = created + _jitter(rng, 24 * 6) if rng.random() < 0.15 else None
        m: dict[str, datetime] = {}
        roll = rng.random()
        at = created
        if roll < 0.06:
            m["cancelled_at"] = at + _jitter(rng, 20)
        elif roll > 0.12:  # shipped at some point
            at = m["shipped_at"] = at + _jitter(rng, 60)
            if rng.random() < 0.85:
                at = m["out_for_delivery_at"] = at + _jitter(rng, 100)
                if rng.random() < 0.15:
                    at = m["first_failed_at"] = at + _jitter(rng, 10)
                end = rng.random()
                if end < 0.05:
                    m["returned_at"] = at + _jitter(rng, 30)
                elif end < 0.09:
                    m["lost_at"] = at + _jitter(rng, 30)
                elif end < 0.95:
                    m["delivered_at"] = at + _jitter(rng, 20)
        if n % 97 == 5 and "delivered_at" in m:  # exactly on the deadline
            m["delivered_at"] = promise or created + timedelta(days=5)
            tier = ShippingTier.STANDARD
        order = SlaInput(
            order_id=f"o-{seed}-{n:05d}",
            created_at=created,
            shipping_tier=tier,
            promised_delivery_at=promise,
            **m,
        )
        orders.append((order, CARRIERS[rng.randrange(4)], REGIONS[rng.randrange(5)]))
    return orders


_MILESTONE_STATUS = {
    "shipped_at": "shipped",
    "out_for_delivery_at": "out_for_delivery",
    "first_failed_at": "delivery_failed",
    "delivered_at": "delivered",
    "returned_at": "returned_to_sender",
    "lost_at": "lost",
    "cancelled_at": "cancelled",
}


def sale_row(order: SlaInput, carrier: str, region: str) -> dict[str, object]:
    """A ``sales`` row for ``order`` (status = its last milestone)."""
    milestones = _MILESTONE_STATUS
    reached = [(getattr(order, k), s) for k, s in milestones.items() if getattr(order, k)]
    status_at, status = max(reached, default=(order.created_at, "pending"))
    row: dict[str, object] = {k: getattr(order, k) for k in milestones}
    row.update(
        order_id=order.order_id,
        shipping_tier=order.shipping_tier.value,
        carrier=carrier,
        destination_region=region,
        created_at=order.created_at,
        promised_delivery_at=order.promised_delivery_at,
        awaiting_creation=False,
        status=status,
        status_rank=0,
        status_at=status_at,
        status_event_id="0" * 36,
        failed_attempts=1 if order.first_failed_at else 0,
        event_count=1 + len(reached),
        illegal_transitions=0,
        updated_at=status_at,
    )
    return row


def load(engine: Engine, orders: Sequence[tuple[SlaInput, str, str]]) -> None:
    """Write ``orders`` plus one order whose creation has not arrived (must be left out)."""
    orphan = {
        "order_id": "orphan-1",
        "awaiting_creation": True,
        "status": "shipped",
        "status_rank": 40,
        "status_at": AS_OF - timedelta(days=1),
        "status_event_id": "1" * 36,
        "shipped_at": AS_OF - timedelta(days=1),
        "failed_attempts": 0,
        "event_count": 1,
        "illegal_transitions": 0,
        "updated_at": AS_OF,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(Sale), [sale_row(*o) for o in orders])
        conn.execute(sa.insert(Sale), [orphan])
        conn.execute(sa.insert(OrderHistory), [h for o, _, _ in orders for h in history_rows(o)])


def history_rows(order: SlaInput) -> list[dict[str, object]]:
    """The ``order_history`` rows behind :func:`sale_row` (what ``--as-of`` looks up)."""
    steps = [(order.created_at, "pending", 0)] + [
        (at, status, RANK[OrderStatus(status)])
        for key, status in _MILESTONE_STATUS.items()
        if (at := getattr(order, key)) is not None
    ]
    return [
        {
            "event_id": f"{order.order_id}-{n}",
            "order_id": order.order_id,
            "event_type": "order-created" if n == 0 else "status-changed",
            "status": status,
            "status_rank": status_rank,
            "occurred_at": at,
            "ingested_at": at,
            "legal": True,
            "payload": "{}",
        }
        for n, (at, status, status_rank) in enumerate(steps)
    ]

"""Read-side queries for the demo's short summary (the full reports are elsewhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from domain.events import ShippingTier
from domain.sla import SlaInput
from infra.db.models import OrderHistory, Sale

_SLA_MILESTONES = (
    "promised_delivery_at",
    "shipped_at",
    "out_for_delivery_at",
    "first_failed_at",
    "delivered_at",
    "returned_at",
    "lost_at",
    "cancelled_at",
)


def status_counts(conn: Connection) -> dict[str, int]:
    """Orders per current status."""
    rows = conn.execute(select(Sale.status, func.count()).group_by(Sale.status)).all()
    return {status: count for status, count in rows}


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows in ``sales`` and ``order_history``, orphans and illegal moves."""
    return {
        "orders": conn.execute(select(func.count()).select_from(Sale)).scalar_one(),
        "events": conn.execute(select(func.count()).select_from(OrderHistory)).scalar_one(),
        "awaiting_creation": conn.execute(
            select(func.count()).select_from(Sale).where(Sale.awaiting_creation.is_(True))
        ).scalar_one(),
        "illegal_transitions": conn.execute(
            select(func.coalesce(func.sum(Sale.illegal_transitions), 0))
        ).scalar_one(),
    }


def sla_inputs(conn: Connection) -> list[SlaInput]:
    """Every order whose creation has arrived, as the SLA arithmetic's input."""
    table = Sale.__table__
    query = select(table).where(table.c.awaiting_creation.is_(False))
    return [
        SlaInput(
            order_id=row["order_id"],
            created_at=row["created_at"],
            shipping_tier=ShippingTier(row["shipping_tier"]),
            **{name: row[name] for name in _SLA_MILESTONES},
        )
        for row in conn.execute(query).mappings()
        if row["created_at"] is not None and row["shipping_tier"] is not None
    ]


def latest_event_time(conn: Connection) -> datetime | None:
    """The newest event time in history (the demo's "as of")."""
    latest: datetime | None = conn.execute(
        select(func.max(OrderHistory.occurred_at))
    ).scalar_one_or_none()
    return latest

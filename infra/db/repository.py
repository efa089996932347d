"""The SQL repository behind the apply path: a few set-based statements per batch.

Works on any connection inside an open transaction; the statements come from
:mod:`infra.db.apply_sql` for the connection's dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, select, tuple_

from consumer.batch import Offsets, ReceivedEvent
from consumer.ports import SaleState
from domain.codec import encode_event
from domain.events import event_status
from domain.lifecycle import rank
from domain.order import OrderSummary
from infra.db import apply_sql
from infra.db.models import ConsumerOffset

#: sales milestone column of each milestone status
MILESTONE_COLUMN = dict(
    zip(
        (
            "approved",
            "packed",
            "shipped",
            "out_for_delivery",
            "delivery_failed",
            "delivered",
            "returned_to_sender",
            "lost",
            "cancelled",
        ),
        apply_sql.MILESTONE_COLUMNS,
        strict=True,
    )
)
#: keep IN lists well under SQLite's limit of bound parameters
_IN_CHUNK = 5000


def history_row(received: ReceivedEvent, ingested_at: datetime) -> dict[str, Any]:
    """The ``order_history`` row of one event (``legal`` is judged afterwards)."""
    event, source = received.event, received.source
    status = event_status(event)
    return {
        "event_id": str(event.event_id),
        "order_id": event.order_id,
        "event_type": event.event_type,
        "status": status.value,
        "status_rank": rank(status),
        "occurred_at": event.occurred_at,
        "ingested_at": ingested_at,
        "source_topic": source.topic if source else None,
        "source_partition": source.partition if source else None,
        "source_offset": source.offset if source else None,
        "legal": None,
        "payload": encode_event(event).decode("utf-8"),
    }


def sales_row(summary: OrderSummary, updated_at: datetime) -> dict[str, Any]:
    """The ``sales`` row implied by one order's summary."""
    facts = summary.facts
    row: dict[str, Any] = {
        "order_id": summary.order_id,
        "customer_id": facts.customer_id if facts else None,
        "customer_name": facts.customer_name if facts else None,
        "product_sku": facts.product_sku if facts else None,
        "product_name": facts.product_name if facts else None,
        "quantity": facts.quantity if facts else None,
        "unit_price": facts.unit_price if facts else None,
        "total_amount": facts.total_amount if facts else None,
        "currency": facts.currency if facts else None,
        "shipping_tier": facts.shipping_tier.value if facts else None,
        "carrier": facts.carrier if facts else None,
        "destination_region": facts.destination_region if facts else None,
        "created_at": facts.created_at if facts else None,
        "created_event_id": str(facts.event_id) if facts else None,
        "promised_delivery_at": facts.promised_delivery_at if facts else None,
        "awaiting_creation": facts is None,
        "status": summary.status.value,
        "status_rank": rank(summary.status),
        "status_at": summary.status_at,
        "status_event_id": str(summary.status_event_id),
        "failed_attempts": summary.failed_attempts,
        "event_count": summary.event_count,
        "illegal_transitions": 0,
        "updated_at": updated_at,
    }
    row.update(dict.fromkeys(apply_sql.MILESTONE_COLUMNS))
    for status, at in summary.milestones.items():
        row[MILESTONE_COLUMN[status.value]] = at
    return row


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlOrderRepository:
    """``consumer.ports.OrderRepository`` on a SQLAlchemy connection (PostgreSQL, SQLite)."""

    def __init__(self, connection: Connection, clock: Callable[[], datetime] | None = None) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._clock = clock or (lambda: datetime.now(UTC))

    def append_history(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        distinct: dict[str, ReceivedEvent] = {}
        for received in events:
            distinct.setdefault(str(received.event.event_id), received)
        if not distinct:
            return []
        now = self._clock()
        rows = [history_row(received, now) for received in distinct.values()]
        inserted = set(self._write(apply_sql.HISTORY, rows).scalars().all())
        return [received for key, received in distinct.items() if key in inserted]

    def upsert_sales(self, summaries: Sequence[OrderSummary]) -> list[SaleState]:
        if not summaries:
            return []
        now = self._clock()
        rows = [sales_row(summary, now) for summary in summaries]
        result = self._write(apply_sql.SALES, rows)
        return [
            SaleState(order_id=r[0], status_event_id=r[1], awaiting_creation=bool(r[2]))
            for r in result.all()
        ]

    def rejudge(self, order_ids: Collection[str]) -> int:
        if not order_ids:
            return 0
        if self._dialect == "postgresql":
            # one array parameter: no IN list to chunk, one statement for both steps
            parameters = apply_sql.rejudge_parameters(sorted(order_ids))
            result = self._conn.exec_driver_sql(apply_sql.REJUDGE_POSTGRESQL, parameters)
            return int(result.scalar_one())
        illegal = 0
        changed: set[str] = set()
        for chunk in _chunks(sorted(order_ids)):
            result = self._conn.execute(
                apply_sql.rejudge_history(self._dialect), {"order_ids": list(chunk)}
            )
            for order_id, legal in result.all():
                changed.add(order_id)
                illegal += legal is not None and not legal
        for chunk in _chunks(sorted(changed)):
            self._conn.execute(apply_sql.recount_illegal(self._dialect), {"order_ids": list(chunk)})
        return illegal

    def _write(
        self, table: Table, rows: Sequence[dict[str, Any]]
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run the history insert or the sales upsert on ``rows`` (returning rows)."""
        if self._dialect == "postgresql":
            # column arrays through ``unnest``: see apply_sql.postgresql_driver_sql
            name = "history" if table is apply_sql.HISTORY else "sales"
            columns = apply_sql.bind_rows(self._dialect, table, rows)
            return self._conn.exec_driver_sql(apply_sql.postgresql_driver_sql(name), columns)
        statement = (
            apply_sql.history_insert if table is apply_sql.HISTORY else apply_sql.sales_upsert
        )
        return self._conn.execute(statement(self._dialect), rows)

    def record_offsets(self, consumer_group: str, offsets: Offsets) -> None:
        if not offsets:
            return
        now = self._clock()
        rows = [
            {
                "consumer_group": consumer_group,
                "topic": topic,
                "partition": partition,
                "next_offset": next_offset,
                "updated_at": now,
            }
            for (topic, partition), next_offset in sorted(offsets.items())
        ]
        self._conn.execute(apply_sql.offsets_upsert(self._dialect), rows)

    def read_offsets(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        t = ConsumerOffset.__table__.c
        query = select(t.topic, t.partition, t.next_offset).where(
            t.consumer_group == consumer_group,
            tuple_(t.topic, t.partition).in_(sorted(partitions)),
        )
        return {(topic, part): nxt for topic, part, nxt in self._conn.execute(query).all()}

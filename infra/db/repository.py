"""The SQL repository behind the apply path: a few set-based statements per batch.

Works on any connection inside an open transaction; the statements come from
:mod:`infra.db.apply_sql` for the connection's dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, CursorResult, Table, select, tuple_, update

from consumer.batch import Offsets, ReceivedEvent
from consumer.errors import PartitionFenced
from consumer.ports import OrderHead, PartitionClaim, PartitionOwner, SaleState, Verdicts
from domain.codec import encode_event
from domain.events import event_status
from domain.lifecycle import OrderStatus, rank
from domain.order import MILESTONE_FIELDS, OrderSummary
from infra.db import apply_sql, judge_sql
from infra.db.models import ConsumerOffset, OrderHistory

#: keep IN lists well under SQLite's limit of bound parameters
_IN_CHUNK = 5000


#: ``order_history`` columns in :func:`history_values` order (the ``COPY`` order)
HISTORY_COLUMNS = apply_sql.copy_columns(apply_sql.HISTORY)


def history_values(
    received: ReceivedEvent,
    ingested_at: datetime,
    legal: bool | None = None,
    event_id: str | None = None,
) -> tuple[Any, ...]:
    """The ``order_history`` row of one event as values in ``HISTORY_COLUMNS`` order,
    with its verdict if judged on arrival (``event_id``: its id as text, when the
    caller already has it)."""
    event, source = received.event, received.source
    status = event_status(event)
    return (
        event_id or str(event.event_id),
        event.order_id,
        event.event_type,
        status.value,
        rank(status),
        event.occurred_at,
        ingested_at,
        source.topic if source else None,
        source.partition if source else None,
        source.offset if source else None,
        legal,
        received.payload or encode_event(event).decode("utf-8"),
    )


def history_row(
    received: ReceivedEvent,
    ingested_at: datetime,
    legal: bool | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """:func:`history_values` by column name."""
    return dict(
        zip(HISTORY_COLUMNS, history_values(received, ingested_at, legal, event_id), strict=True)
    )


def sales_row(summary: OrderSummary, updated_at: datetime, illegal: int = 0) -> dict[str, Any]:
    """The ``sales`` row implied by one order's summary (``illegal`` transitions in it)."""
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
        "illegal_transitions": illegal,
        "updated_at": updated_at,
    }
    row.update(dict.fromkeys(apply_sql.MILESTONE_COLUMNS))
    for status, at in summary.milestones.items():
        row[MILESTONE_FIELDS[status]] = at
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
        #: staging tables written in this transaction (PostgreSQL)
        self._staged: set[str] = set()

    def read_heads(self, order_ids: Collection[str]) -> dict[str, OrderHead]:
        if not order_ids:
            return {}
        if self._dialect == "postgresql":
            # one array parameter (binary): no IN list to chunk, one short statement
            rows: list[Any] = list(
                self._conn.exec_driver_sql(
                    judge_sql.HEADS_POSTGRESQL, {"order_ids": list(order_ids)}
                ).all()
            )
        else:
            rows = []
            for chunk in _chunks(sorted(order_ids)):
                query = judge_sql.heads(self._dialect)
                rows.extend(self._conn.execute(query, {"order_ids": list(chunk)}).all())
        return {
            order_id: OrderHead(
                status=OrderStatus(status),
                precedence=(status_at, status_rank, status_event_id),
                event_count=event_count,
            )
            for order_id, status, status_at, status_rank, status_event_id, event_count in rows
        }

    def append_history(
        self, events: Mapping[str, ReceivedEvent], verdicts: Verdicts | None = None
    ) -> list[ReceivedEvent]:
        if not events:
            return []
        now = self._clock()
        legal = verdicts or {}
        values = [history_values(r, now, legal.get(key), key) for key, r in events.items()]
        if self._dialect == "postgresql":
            result = self._staged_write(apply_sql.HISTORY, values)
        else:
            rows = [dict(zip(HISTORY_COLUMNS, v, strict=True)) for v in values]
            result = self._conn.execute(apply_sql.history_insert(self._dialect), rows)
        inserted = set(result.scalars().all())
        return [received for key, received in events.items() if key in inserted]

    def read_payloads(self, event_ids: Collection[str]) -> dict[str, str]:
        t = OrderHistory.__table__.c
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(event_ids)):
            query = select(t.event_id, t.payload).where(t.event_id.in_(list(chunk)))
            found.update((event_id, payload) for event_id, payload in self._conn.execute(query))
        return found

    def upsert_sales(
        self, summaries: Sequence[OrderSummary], illegal: Mapping[str, int] | None = None
    ) -> list[SaleState]:
        if not summaries:
            return []
        now = self._clock()
        counts = illegal or {}
        rows = [sales_row(s, now, counts.get(s.order_id, 0)) for s in summaries]
        if self._dialect == "postgresql":
            values = apply_sql.copy_rows(apply_sql.SALES, rows)
            result = self._staged_write(apply_sql.SALES, values)
        else:
            result = self._conn.execute(apply_sql.sales_upsert(self._dialect), rows)
        return [
            SaleState(
                order_id=r[0], status_event_id=r[1], awaiting_creation=bool(r[2]), event_count=r[3]
            )
            for r in result.all()
        ]

    def rejudge(self, order_ids: Collection[str]) -> int:
        if not order_ids:
            return 0
        if self._dialect == "postgresql":
            # one array parameter: no IN list to chunk, one statement for both steps
            parameters = judge_sql.rejudge_parameters(sorted(order_ids))
            result = self._conn.exec_driver_sql(judge_sql.REJUDGE_POSTGRESQL, parameters)
            return int(result.scalar_one())
        illegal = 0
        for chunk in _chunks(sorted(order_ids)):
            result = self._conn.execute(
                judge_sql.rejudge_history(self._dialect), {"order_ids": list(chunk)}
            )
            illegal += sum(legal is not None and not legal for _, legal in result.all())
            # every order: counts added on arrival may be off for a re-judged order
            self._conn.execute(judge_sql.recount_illegal(self._dialect), {"order_ids": list(chunk)})
        return illegal

    def _staged_write(
        self, table: Table, values: Sequence[tuple[Any, ...]]
    ) -> CursorResult[*tuple[Any, ...]]:
        """PostgreSQL: the history insert or the sales upsert of ``values`` (in ``COPY``
        column order), through the session's staging table (returning rows)."""
        if not self._staged:
            # once per transaction: a table created in a rolled-back one is gone
            self._conn.exec_driver_sql(apply_sql.create_stages_sql())
        elif table.name in self._staged:
            # emptied at commit only: clear what an earlier call of this transaction left
            self._conn.exec_driver_sql(f"DELETE FROM {apply_sql.stage(table).name}")
        self._staged.add(table.name)
        driver = self._conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.cursor() as cursor, cursor.copy(apply_sql.copy_sql(table)) as copy:
            copy.set_types(apply_sql.copy_types(table))
            for row in values:
                copy.write_row(row)
        statement = (
            apply_sql.history_insert if table is apply_sql.HISTORY else apply_sql.sales_upsert
        )
        return self._conn.execute(statement(self._dialect))

    def record_offsets(
        self,
        consumer_group: str,
        offsets: Offsets,
        owners: Mapping[tuple[str, int], PartitionOwner] | None = None,
    ) -> None:
        if not offsets:
            return
        now = self._clock()
        owned = owners or {}
        fenced: list[tuple[str, int]] = []
        rows = []
        for (topic, partition), next_offset in sorted(offsets.items()):
            owner = owned.get((topic, partition))
            if owner is None:
                rows.append(
                    {
                        "consumer_group": consumer_group,
                        "topic": topic,
                        "partition": partition,
                        "next_offset": next_offset,
                        "updated_at": now,
                    }
                )
                continue
            result = self._conn.execute(
                apply_sql.offsets_update_owned(),
                {
                    "g": consumer_group,
                    "t": topic,
                    "p": partition,
                    "epoch": owner.epoch,
                    "n": next_offset,
                    "topic_id": owner.topic_id,
                    "u": now,
                },
            )
            if result.rowcount != 1:
                fenced.append((topic, partition))
        if fenced:
            raise PartitionFenced(fenced)
        if rows:
            self._conn.execute(apply_sql.offsets_upsert(self._dialect), rows)

    def claim_partitions(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], PartitionClaim]:
        now = self._clock()
        claims: dict[tuple[str, int], PartitionClaim] = {}
        statement = apply_sql.offsets_claim(self._dialect)
        for topic, partition in sorted(partitions):
            epoch, next_offset, topic_id = self._conn.execute(
                statement,
                {
                    "consumer_group": consumer_group,
                    "topic": topic,
                    "partition": partition,
                    "next_offset": 0,
                    "updated_at": now,
                    "owner_epoch": 1,
                },
            ).one()
            claims[(topic, partition)] = PartitionClaim(epoch, next_offset, topic_id)
        return claims

    def reset_offsets(
        self, consumer_group: str, partitions: Mapping[tuple[str, int], str | None]
    ) -> None:
        t = ConsumerOffset.__table__.c
        for (topic, partition), topic_id in sorted(partitions.items()):
            self._conn.execute(
                update(ConsumerOffset)
                .where(
                    t.consumer_group == consumer_group,
                    t.topic == topic,
                    t.partition == partition,
                )
                .values(next_offset=0, topic_id=topic_id, updated_at=self._clock())
            )

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

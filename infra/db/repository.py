"""The SQL repository behind the apply path: a few set-based statements per batch.

The rows an event or an order summary becomes, and the repository's methods,
written once; :class:`SqlOrderRepository` leaves to its per-backend subclass
only how rows reach the server and how a re-judge is composed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Insert, Result, Table, select, tuple_, update

from consumer.batch import Offsets, ReceivedEvent
from consumer.errors import PartitionFenced
from consumer.ports import OrderHead, PartitionClaim, PartitionOwner, SaleState, Verdicts
from domain.codec import encode_event
from domain.events import ShippingTier, StatusChanged
from domain.lifecycle import INITIAL_STATUS, RANK, OrderStatus
from domain.order import MILESTONE_FIELDS, OrderFacts, OrderSummary
from infra.db import apply_sql, judge_sql
from infra.db.models import ConsumerOffset, OrderHistory

if TYPE_CHECKING:
    from infra.db.backend import SqlBackend

#: ``order_history`` columns in :func:`history_values` order (the ``COPY`` order)
HISTORY_COLUMNS = apply_sql.row_columns(apply_sql.HISTORY)
#: ``sales`` columns in :func:`sales_values` order (the ``COPY`` order)
SALES_COLUMNS = apply_sql.row_columns(apply_sql.SALES)

# Row values are built as tuples in column order, once per event and per order of
# every batch: plain lookups here, not enum properties or per-row dicts.
_STATUS_TEXT: dict[OrderStatus, str] = {status: status.value for status in OrderStatus}
_TIER_TEXT: dict[ShippingTier, str] = {tier: tier.value for tier in ShippingTier}
#: a stored status by its text (a dict lookup: the enum's call is ten times slower)
_STATUS_OF: dict[str, OrderStatus] = {status.value: status for status in OrderStatus}
_MILESTONE_STATUSES = tuple(MILESTONE_FIELDS)
_NO_FACTS: tuple[None, ...] = (None,) * len(apply_sql.FACT_COLUMNS)
_NO_MILESTONES: tuple[None, ...] = (None,) * len(_MILESTONE_STATUSES)
_SALES_ORDER = (
    "order_id",
    *apply_sql.FACT_COLUMNS,
    "awaiting_creation",
    *("status", "status_rank", "status_at", "status_event_id", *apply_sql.MILESTONE_COLUMNS),
    *("failed_attempts", "event_count", "illegal_transitions", "updated_at"),
)
if _SALES_ORDER != SALES_COLUMNS:  # the model changed: sales_values must follow it
    raise RuntimeError(f"sales_values writes {_SALES_ORDER}, the table has {SALES_COLUMNS}")


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
    status = event.status if isinstance(event, StatusChanged) else INITIAL_STATUS
    return (
        event_id or received.id_text,
        event.order_id,
        event.event_type,
        _STATUS_TEXT[status],
        RANK[status],
        event.occurred_at,
        ingested_at,
        None if source is None else source.topic,
        None if source is None else source.partition,
        None if source is None else source.offset,
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


def sales_values(summary: OrderSummary, updated_at: datetime, illegal: int = 0) -> tuple[Any, ...]:
    """The ``sales`` row implied by one order's summary (``illegal`` transitions in it),
    as values in ``SALES_COLUMNS`` order."""
    facts = summary.facts
    status = summary.status
    milestones = summary.milestones
    # tuples joined: a display with starred parts is built through a list
    return (
        (summary.order_id,)
        + (_NO_FACTS if facts is None else _fact_values(facts))
        + (
            facts is None,
            _STATUS_TEXT[status],
            RANK[status],
            summary.status_at,
            str(summary.status_event_id),
        )
        + (tuple(map(milestones.get, _MILESTONE_STATUSES)) if milestones else _NO_MILESTONES)
        + (summary.failed_attempts, summary.event_count, illegal, updated_at)
    )


def _fact_values(facts: OrderFacts) -> tuple[Any, ...]:
    """``facts`` in ``apply_sql.FACT_COLUMNS`` order."""
    return (
        facts.customer_id,
        facts.customer_name,
        facts.product_sku,
        facts.product_name,
        facts.quantity,
        facts.unit_price,
        facts.total_amount,
        facts.currency,
        _TIER_TEXT[facts.shipping_tier],
        facts.carrier,
        facts.destination_region,
        facts.created_at,
        str(facts.event_id),
        facts.promised_delivery_at,
    )


def sales_row(summary: OrderSummary, updated_at: datetime, illegal: int = 0) -> dict[str, Any]:
    """:func:`sales_values` by column name."""
    return dict(zip(SALES_COLUMNS, sales_values(summary, updated_at, illegal), strict=True))


class SqlOrderRepository(ABC):
    """``consumer.ports.OrderRepository`` on a SQLAlchemy connection inside an open
    transaction. One subclass per backend (``infra.db.postgres``, ``infra.db.sqlite``)
    says how rows reach the server and how a re-judge is composed; the statements
    themselves come from :mod:`infra.db.apply_sql` and :mod:`infra.db.judge_sql`."""

    def __init__(
        self,
        connection: Connection,
        backend: SqlBackend,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._conn = connection
        self._backend = backend
        self._clock = clock or (lambda: datetime.now(UTC))

    @abstractmethod
    def rejudge(self, order_ids: Collection[str]) -> int:
        """Recompute ``legal`` over the whole history of ``order_ids`` and recount their
        ``illegal_transitions``; returns how many events became illegal."""

    @abstractmethod
    def _write(self, table: Table, values: Sequence[tuple[Any, ...]]) -> Result[*tuple[Any, ...]]:
        """The history insert or the sales upsert of ``values`` (in
        ``apply_sql.row_columns`` order); returns the statement's rows (the history
        insert's may be kept instead: :meth:`_all_inserted`, :meth:`_inserted_ids`)."""

    def _all_inserted(self, result: Result[*tuple[Any, ...]], rows: int) -> bool:
        """Whether the history insert ``result`` is known to have inserted all ``rows``
        without reading its returned ids (``False``: read them)."""
        return False

    def _inserted_ids(self, result: Result[*tuple[Any, ...]]) -> Collection[str]:
        """The ids the history insert ``result`` inserted (read when not all were)."""
        return set(result.scalars().all())

    def _statement(self, table: Table) -> Insert:
        """The merge statement of ``table``'s rows (the history insert, the sales upsert)."""
        build = apply_sql.history_insert if table is apply_sql.HISTORY else apply_sql.sales_upsert
        return build(self._backend)

    def _chunks(self, ids: Collection[str]) -> Iterable[list[str]]:
        """``ids`` in order, as many at a time as one statement of the backend takes."""
        ordered = sorted(ids)
        size = self._backend.ids_per_statement or len(ordered) or 1
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]

    def read_heads(self, order_ids: Collection[str]) -> dict[str, OrderHead]:
        return {
            order_id: OrderHead(
                status=_STATUS_OF[status],
                precedence=(status_at, status_rank, status_event_id),
                event_count=event_count,
            )
            for order_id, status, status_at, status_rank, status_event_id, event_count in (
                self._head_rows(order_ids)
            )
        }

    def _head_rows(self, order_ids: Collection[str]) -> Sequence[Sequence[Any]]:
        """The ``judge_sql.HEAD_COLUMNS`` of the stored orders among ``order_ids``."""
        query = judge_sql.heads(self._backend)
        rows: list[Sequence[Any]] = []
        for chunk in self._chunks(order_ids):
            rows.extend(self._conn.execute(query, {"order_ids": chunk}).all())
        return rows

    def append_history(
        self, events: Mapping[str, ReceivedEvent], verdicts: Verdicts | None = None
    ) -> list[ReceivedEvent]:
        if not events:
            return []
        now = self._clock()
        legal = verdicts or {}
        values = [history_values(r, now, legal.get(key), key) for key, r in events.items()]
        result = self._write(apply_sql.HISTORY, values)
        if self._all_inserted(result, len(values)):  # the usual case: no id known before
            result.close()
            return list(events.values())
        inserted = self._inserted_ids(result)
        return [received for key, received in events.items() if key in inserted]

    def read_payloads(self, event_ids: Collection[str]) -> dict[str, str]:
        t = OrderHistory.__table__.c
        found: dict[str, str] = {}
        for chunk in self._chunks(event_ids):
            query = select(t.event_id, t.payload).where(self._backend.among(t.event_id, "ids"))
            rows = self._conn.execute(query, {"ids": chunk})
            found.update((event_id, payload) for event_id, payload in rows)
        return found

    def upsert_sales(
        self, summaries: Sequence[OrderSummary], illegal: Mapping[str, int] | None = None
    ) -> list[SaleState]:
        if not summaries:
            return []
        now = self._clock()
        counts = illegal or {}
        rows = [sales_values(s, now, counts.get(s.order_id, 0)) for s in summaries]
        result = self._write(apply_sql.SALES, rows)
        return [
            SaleState(
                order_id=r[0], status_event_id=r[1], awaiting_creation=bool(r[2]), event_count=r[3]
            )
            for r in result.all()
        ]

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
            self._conn.execute(apply_sql.offsets_upsert(self._backend), rows)

    def claim_partitions(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], PartitionClaim]:
        now = self._clock()
        claims: dict[tuple[str, int], PartitionClaim] = {}
        statement = apply_sql.offsets_claim(self._backend)
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

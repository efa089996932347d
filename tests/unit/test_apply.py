"""The apply path against an in-memory repository: what a batch does and counts."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from uuid import UUID, uuid4

import pytest

from consumer.apply import Checkpoint, apply_batch, apply_events
from consumer.batch import Offsets, ReceivedEvent
from consumer.ports import SaleState
from domain.events import Event, OrderCreated, ShippingTier, StatusChanged
from domain.lifecycle import OrderStatus as S
from domain.order import OrderSummary, judge_transitions, merge

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


def received(*events: Event) -> list[ReceivedEvent]:
    return [ReceivedEvent(e) for e in events]


class FakeRepository:
    """The repository contract in memory, built on the domain fold."""

    def __init__(self) -> None:
        self.history: dict[str, Event] = {}
        self.sales: dict[str, OrderSummary] = {}
        self.legal: dict[str, bool | None] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.upserts = 0

    def append_history(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        new: list[ReceivedEvent] = []
        for r in events:
            key = str(r.event.event_id)
            if key not in self.history:
                self.history[key] = r.event
                new.append(r)
        return new

    def upsert_sales(self, summaries: Sequence[OrderSummary]) -> list[SaleState]:
        self.upserts += 1
        states = []
        for s in summaries:
            current = self.sales.get(s.order_id)
            row = s if current is None else merge(current, s)
            self.sales[s.order_id] = row
            states.append(SaleState(s.order_id, str(row.status_event_id), row.awaiting_creation))
        return states

    def rejudge(self, order_ids: Collection[str]) -> int:
        illegal = 0
        for order_id in order_ids:
            events = [e for e in self.history.values() if e.order_id == order_id]
            for event_id, verdict in judge_transitions(events).items():
                if self.legal.get(str(event_id)) != verdict:
                    self.legal[str(event_id)] = verdict
                    illegal += verdict is False
        return illegal

    def record_offsets(self, consumer_group: str, offsets: Offsets) -> None:
        for (topic, partition), offset in offsets.items():
            key = (consumer_group, topic, partition)
            self.offsets[key] = max(offset, self.offsets.get(key, 0))

    def read_offsets(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        return {
            (t, p): o
            for (g, t, p), o in self.offsets.items()
            if g == consumer_group and (t, p) in partitions
        }


class FakeUnitOfWork:
    def __init__(self, orders: FakeRepository | None = None) -> None:
        self.orders = orders or FakeRepository()
        self.committed = False
        self.rolled_back = False

    def __enter__(self) -> FakeUnitOfWork:
        self.committed = self.rolled_back = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.rolled_back = True

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        self.rolled_back = True


def test_new_events_are_applied_and_committed() -> None:
    uow = FakeUnitOfWork()
    outcome = apply_batch(received(created(), changed(S.APPROVED)), uow)
    assert uow.committed
    assert (outcome.applied, outcome.duplicates, outcome.orders_touched) == (2, 0, 1)
    assert uow.orders.sales["ORD-1"].status is S.APPROVED


def test_a_duplicate_in_the_batch_and_across_batches_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    c = created()
    first = apply_batch(received(c, c), uow)
    assert (first.applied, first.duplicates) == (1, 1)
    upserts = uow.orders.upserts
    again = apply_batch(received(c), uow)
    assert (again.applied, again.duplicates) == (0, 1)
    assert uow.orders.upserts == upserts  # history drives state: no new event, no upsert


def test_an_event_older_than_the_current_status_is_stale() -> None:
    uow = FakeUnitOfWork()
    apply_batch(received(created(), changed(S.APPROVED, hours=2)), uow)
    outcome = apply_batch(received(changed(S.PROCESSING, hours=1)), uow)
    assert outcome.stale == 1
    assert uow.orders.sales["ORD-1"].status is S.APPROVED


def test_a_status_change_before_its_creation_is_orphaned_then_completed() -> None:
    uow = FakeUnitOfWork()
    outcome = apply_batch(received(changed(S.APPROVED)), uow)
    assert outcome.orphaned == 1
    assert uow.orders.sales["ORD-1"].awaiting_creation
    apply_batch(received(created()), uow)
    assert not uow.orders.sales["ORD-1"].awaiting_creation
    assert uow.orders.sales["ORD-1"].status is S.APPROVED


def test_an_illegal_move_is_counted() -> None:
    outcome = apply_batch(received(created(), changed(S.DELIVERED)), FakeUnitOfWork())
    assert outcome.illegal == 1


def test_the_checkpoint_is_recorded_in_the_same_transaction() -> None:
    uow = FakeUnitOfWork()
    apply_batch(received(created()), uow, checkpoint=Checkpoint("g", {("t", 0): 5}))
    apply_batch(received(), uow, checkpoint=Checkpoint("g", {("t", 0): 3}))
    assert uow.orders.offsets == {("g", "t", 0): 5}


def test_a_failure_rolls_back_and_propagates() -> None:
    class Boom(FakeRepository):
        def rejudge(self, order_ids: Collection[str]) -> int:
            raise RuntimeError("boom")

    uow = FakeUnitOfWork(Boom())
    with pytest.raises(RuntimeError):
        apply_batch(received(created()), uow)
    assert uow.rolled_back and not uow.committed


def test_an_empty_batch_does_nothing() -> None:
    repo = FakeRepository()
    assert apply_events([], repo).received == 0
    assert repo.upserts == 0


def test_postgresql_statements_bind_one_binary_array_per_column() -> None:
    from infra.db import apply_sql

    for name, table in (("history", apply_sql.HISTORY), ("sales", apply_sql.SALES)):
        sql = apply_sql.postgresql_driver_sql(name)
        columns = [c.name for c in table.columns if c.name != "id"]
        assert all(f"unnest(%({c})b::" in sql for c in columns)
        assert "%s" not in sql and ")s" not in sql  # no text-format parameter left
        assert len(sql) < 10_000  # the same short text whatever the batch size


def test_rows_become_columns_for_postgresql_only() -> None:
    from infra.db import apply_sql

    rows = [{c.name: (c.name, i) for c in apply_sql.OFFSETS.columns} for i in range(3)]
    assert apply_sql.bind_rows("sqlite", apply_sql.OFFSETS, rows) is rows
    columns = apply_sql.bind_rows("postgresql", apply_sql.OFFSETS, rows)
    assert columns["topic"] == [("topic", 0), ("topic", 1), ("topic", 2)]

"""The apply path against an in-memory repository: what a batch does and counts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta

import pytest

from consumer.apply import Checkpoint, apply_batch, apply_events, judge_arrivals
from consumer.batch import ReceivedEvent
from consumer.ports import OrderHead, SaleState
from domain.events import Event
from domain.lifecycle import OrderStatus as S
from domain.order import OrderSummary, judge_transitions, precedence
from domain.ranked import RankedEvents, rank_by_order
from tests.support.builders import T0, changed, created, eid
from tests.support.fakes import FakeRepository, FakeUnitOfWork


def received(*events: Event) -> list[ReceivedEvent]:
    return [ReceivedEvent(e) for e in events]


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


def test_only_applied_status_changes_of_orders_awaiting_creation_are_orphaned() -> None:
    uow = FakeUnitOfWork()
    first = changed(S.APPROVED)
    two = apply_batch(received(first, changed(S.PACKED, hours=2), created("ORD-2")), uow)
    assert (two.applied, two.orphaned) == (3, 2)
    # a known event in the batch: only the one applied counts
    one = apply_batch(received(first, changed(S.SHIPPED, hours=3)), uow)
    assert (one.applied, one.duplicates, one.orphaned) == (1, 1, 1)


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
        def upsert_sales(
            self, summaries: Sequence[OrderSummary], illegal: Mapping[str, int] | None = None
        ) -> list[SaleState]:
            raise RuntimeError("boom")

    uow = FakeUnitOfWork(Boom())
    with pytest.raises(RuntimeError):
        apply_batch(received(created()), uow)
    assert uow.rolled_back and not uow.committed


def test_an_empty_batch_does_nothing() -> None:
    repo = FakeRepository()
    assert apply_events([], repo).received == 0
    assert repo.upserts == 0


def test_postgresql_statements_read_from_binary_copy_staging_tables() -> None:
    from sqlalchemy.dialects import postgresql

    from infra.db import apply_sql, copy_staging
    from infra.db.postgres import PostgresBackend

    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    for table, build in (
        (apply_sql.HISTORY, apply_sql.history_insert),
        (apply_sql.SALES, apply_sql.sales_upsert),
    ):
        columns = [c.name for c in table.columns if c.name != "id"]
        compiled = build(PostgresBackend()).compile(dialect=dialect)
        assert compiled.params == {}  # nothing bound: whatever the batch size, same text
        assert f"FROM sla_stage_{table.name}" in str(compiled)
        assert copy_staging.copy_sql(table).endswith("FROM STDIN (FORMAT BINARY)")
        assert len(copy_staging.copy_types(table)) == len(columns)
        row = {c: i for i, c in enumerate(reversed(columns))}
        assert apply_sql.row_values(table, [row]) == [tuple(row[c] for c in columns)]
    assert "ON COMMIT DELETE ROWS" in copy_staging.create_stages_sql()


# -- legality judged on arrival ----------------------------------------------------------


def expected_verdicts(events: Sequence[Event]) -> dict[str, bool | None]:
    by_order: dict[str, list[Event]] = {}
    for e in events:
        by_order.setdefault(e.order_id, []).append(e)
    return {str(k): v for evs in by_order.values() for k, v in judge_transitions(evs).items()}


def test_in_order_events_are_judged_on_arrival_without_a_rejudge() -> None:
    uow = FakeUnitOfWork()
    c, a, bad = created(), changed(S.APPROVED, hours=1), changed(S.DELIVERED, hours=2)
    first = apply_batch(received(c, changed(S.APPROVED, "ORD-2")), uow)
    second = apply_batch(received(bad, a), uow)
    assert uow.orders.rejudged == set()
    assert (first.illegal, second.illegal) == (0, 1)
    history = list(uow.orders.history.values())
    assert uow.orders.legal == expected_verdicts(history)


def test_an_event_landing_before_a_stored_one_rejudges_only_its_order() -> None:
    uow = FakeUnitOfWork()
    apply_batch(received(created(), changed(S.PROCESSING, hours=2), created("ORD-2")), uow)
    late = changed(S.APPROVED, hours=1)
    outcome = apply_batch(received(late, changed(S.APPROVED, "ORD-2", hours=1)), uow)
    assert uow.orders.rejudged == {"ORD-1"}
    assert outcome.illegal == 0
    assert uow.orders.legal == expected_verdicts(list(uow.orders.history.values()))


def test_a_redelivered_batch_is_not_rejudged() -> None:
    uow = FakeUnitOfWork()
    batch = received(created(), changed(S.APPROVED, hours=1))
    apply_batch(batch, uow)
    assert apply_batch(batch, uow).duplicates == 2
    assert uow.orders.rejudged == set()


def test_a_row_changed_by_another_transaction_is_rejudged() -> None:
    class Racing(FakeRepository):
        """Another writer folds an event into ORD-1 between the head read and the upsert."""

        def read_heads(self, order_ids: Collection[str]) -> dict[str, OrderHead]:
            heads = super().read_heads(order_ids)
            other = changed(S.APPROVED, hours=1)
            self.history[str(other.event_id)] = other
            self.legal[str(other.event_id)] = True
            self.upsert_sales(
                [OrderSummary("ORD-1", None, S.APPROVED, other.occurred_at, other.event_id)]
            )
            return heads

    repo = Racing()
    repo.history["x"] = c = created()
    repo.sales["ORD-1"] = OrderSummary("ORD-1", None, S.PENDING, c.occurred_at, c.event_id)
    apply_events(received(changed(S.PROCESSING, hours=2)), repo)
    assert repo.rejudged == {"ORD-1"}


def by_id(*events: Event) -> dict[str, RankedEvents]:
    return rank_by_order((str(e.event_id), e) for e in events)


def test_judge_arrivals_continues_from_the_head() -> None:
    a = changed(S.PROCESSING, hours=2)
    head = OrderHead(S.APPROVED, precedence(T0 + timedelta(hours=1), S.APPROVED, eid()), 2)
    judged = judge_arrivals(by_id(a, changed(S.PACKED, hours=3)), {"ORD-1": head})
    assert set(judged.verdicts.values()) == {True} and judged.rejudge == set()
    assert judged.illegal == {}
    early = judge_arrivals(by_id(changed(S.PACKED, hours=0.5)), {"ORD-1": head})
    assert early.verdicts == {} and early.rejudge == {"ORD-1"}
    orphan = judge_arrivals(by_id(a), {})
    assert orphan.verdicts == {str(a.event_id): None}


def test_history_values_follow_the_copy_column_order() -> None:
    from infra.db import apply_sql
    from infra.db.repository import HISTORY_COLUMNS, history_row

    assert tuple(c.name for c in apply_sql.HISTORY.columns if c.name != "id") == HISTORY_COLUMNS
    event = changed(S.APPROVED)
    row = history_row(ReceivedEvent(event), T0, legal=False)
    assert (row["event_id"], row["order_id"], row["status"]) == (
        str(event.event_id),
        "ORD-1",
        "approved",
    )
    assert row["legal"] is False and row["ingested_at"] == T0
    assert row["payload"].startswith("{") and row["source_topic"] is None


def test_sales_values_follow_the_copy_column_order() -> None:
    from domain.ranked import fold_ranked
    from infra.db import apply_sql
    from infra.db.repository import SALES_COLUMNS, sales_row

    assert tuple(c.name for c in apply_sql.SALES.columns) == SALES_COLUMNS
    creation, packed = created(), changed(S.PACKED, hours=2)
    ranked = rank_by_order([(str(e.event_id), e) for e in (packed, creation)])["ORD-1"]
    row = sales_row(fold_ranked("ORD-1", ranked), T0, illegal=1)
    assert (row["order_id"], row["customer_id"], row["quantity"], row["shipping_tier"]) == (
        "ORD-1",
        creation.customer_id,
        creation.quantity,
        creation.shipping_tier.value,
    )
    assert row["created_event_id"] == str(creation.event_id) and row["created_at"] == T0
    assert row["awaiting_creation"] is False and row["illegal_transitions"] == 1
    assert (row["status"], row["status_event_id"]) == ("packed", str(packed.event_id))
    assert row["packed_at"] == packed.occurred_at and row["approved_at"] is None
    assert (row["event_count"], row["updated_at"]) == (2, T0)
    orphan = sales_row(fold_ranked("ORD-1", ranked[1:]), T0)
    assert orphan["awaiting_creation"] is True
    assert all(orphan[name] is None for name in apply_sql.FACT_COLUMNS)

"""One contract for the SQL apply path, run unchanged on SQLite and PostgreSQL: one
test case per backend, as eventsourcing runs its recorder tests."""

from __future__ import annotations

import random
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from consumer.apply import Checkpoint, apply_batch, prepare
from consumer.batch import ReceivedEvent
from consumer.errors import PartitionFenced
from consumer.ports import PartitionOwner, SaleState
from domain.events import Event
from domain.lifecycle import OrderStatus as S
from domain.order import fold
from infra.db.models import Base
from infra.db.postgres import PostgresOrderRepository
from infra.db.rebuild import rebuild_sales, verify
from infra.db.snapshot import describe_differences, snapshot
from infra.db.sqlite_repository import SqliteOrderRepository
from infra.db.unit_of_work import SqlUnitOfWork
from tests.support.backends import MigratedBackendCase
from tests.support.builders import changed, created

pytestmark = pytest.mark.integration


def apply(engine: Engine, *events: Event) -> None:
    apply_batch([ReceivedEvent(e) for e in events], SqlUnitOfWork(engine))


def sale(engine: Engine, order_id: str = "ORD-1") -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM sales WHERE order_id = :o"), {"o": order_id})
        return dict(row.mappings().one())


def legal_flags(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, legal FROM order_history")).all()
    return {e: (None if v is None else bool(v)) for e, v in rows}


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("order_history", "sales", "consumer_offsets"):
            conn.execute(text(f"DELETE FROM {table}"))


# -- order independence ------------------------------------------------------------------

STATUSES = list(S)


@st.composite
def event_streams(draw: st.DrawFn) -> list[Event]:
    """Events of up to 3 orders on a coarse clock (many ties), any statuses, orphans."""
    events: list[Event] = []
    for n in range(draw(st.integers(1, 14))):
        order = draw(st.sampled_from(["A", "B", "C"]))
        hours = draw(st.integers(0, 4))
        event_id = UUID(int=draw(st.integers(1, 2**64)) * 1000 + n)
        if draw(st.integers(0, 5)) == 0:
            events.append(created(order, hours=hours, event_id=event_id, customer_id=f"C{n}"))
        else:
            status = draw(st.sampled_from([s for s in STATUSES if s is not S.PENDING]))
            events.append(changed(status, order, hours=hours, event_id=event_id))
    return events


class RepositoryContract(MigratedBackendCase):
    """The apply path's contract; one subclass per backend supplies the database."""

    def test_migrations_create_exactly_the_models(self, engine: Engine) -> None:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diffs if "sla" not in repr(d)] == []

    def test_same_event_twice_changes_nothing(self, engine: Engine) -> None:
        c, a = created(), changed(S.APPROVED)
        apply(engine, c, a)
        with engine.connect() as conn:
            before = snapshot(conn)
        apply(engine, a, c, a)
        with engine.connect() as conn:
            assert snapshot(conn) == before

    def test_orphan_is_kept_and_completed_when_the_creation_arrives(self, engine: Engine) -> None:
        apply(engine, changed(S.APPROVED, hours=1))
        row = sale(engine)
        assert (
            row["awaiting_creation"] and row["customer_id"] is None and row["status"] == "approved"
        )
        apply(engine, created())
        row = sale(engine)
        assert not row["awaiting_creation"] and row["customer_id"] == "C-1"
        assert row["status"] == "approved" and row["event_count"] == 2

    def test_illegal_transition_is_recorded_and_counted(self, engine: Engine) -> None:
        c, bad = created(), changed(S.DELIVERED, hours=1)
        apply(engine, c, bad)
        assert legal_flags(engine) == {str(c.event_id): True, str(bad.event_id): False}
        assert sale(engine)["illegal_transitions"] == 1
        assert sale(engine)["status"] == "delivered"  # recorded as the latest event, flagged

    def test_a_late_event_in_between_is_rejudged(self, engine: Engine) -> None:
        c, a, p = created(), changed(S.APPROVED, hours=1), changed(S.PROCESSING, hours=2)
        apply(engine, c, p)
        assert sale(engine)["illegal_transitions"] == 1
        apply(engine, a)
        assert sale(engine)["illegal_transitions"] == 0
        assert set(legal_flags(engine).values()) == {True}

    def test_equal_event_times_break_ties_by_rank_then_event_id(self, engine: Engine) -> None:
        low, high = UUID(int=1), UUID(int=2)
        apply(engine, created(), changed(S.DELIVERED, hours=5, event_id=low))
        apply(engine, changed(S.LOST, hours=5, event_id=high))
        assert sale(engine)["status"] == "lost"  # higher rank wins at equal time
        apply(engine, changed(S.APPROVED, order_id="ORD-2", hours=1, event_id=UUID(int=9)))
        apply(engine, changed(S.APPROVED, order_id="ORD-2", hours=1, event_id=UUID(int=8)))
        assert sale(engine, "ORD-2")["status_event_id"] == str(UUID(int=9))

    def test_earliest_creation_wins(self, engine: Engine) -> None:
        apply(engine, created(hours=2, customer_id="LATE"))
        apply(engine, created(hours=1, customer_id="EARLY"))
        apply(engine, created(hours=3, customer_id="LATER"))
        assert sale(engine)["customer_id"] == "EARLY"

    def test_an_id_taken_by_an_event_of_another_order_is_a_conflict(self, engine: Engine) -> None:
        first = changed(S.APPROVED, "A")
        apply(engine, created("A"), first)
        taken = changed(S.SHIPPED, "B", event_id=first.event_id)  # B has no row yet
        outcome = apply_batch(
            [ReceivedEvent(taken), ReceivedEvent(created("C"))], SqlUnitOfWork(engine)
        )
        assert (outcome.applied, outcome.conflicting) == (1, 1)
        assert outcome.conflicts[0].received.event == taken
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT order_id FROM order_history ORDER BY 1")).all()
            orders = conn.execute(text("SELECT order_id FROM sales ORDER BY 1")).all()
        assert [r for (r,) in rows] == ["A", "A", "C"] and [o for (o,) in orders] == ["A", "C"]

    def test_offsets_only_move_forward(self, engine: Engine) -> None:
        for offset in (10, 4, 12):
            apply_batch([], SqlUnitOfWork(engine), checkpoint=Checkpoint("g", {("t", 1): offset}))
        with SqlUnitOfWork(engine) as uow:
            assert uow.orders.read_offsets("g", [("t", 1), ("t", 2)]) == {("t", 1): 12}

    def test_rebuild_and_verify_match_the_live_table(self, engine: Engine) -> None:
        apply(engine, changed(S.SHIPPED, hours=3), created(), changed(S.APPROVED, hours=1))
        apply(engine, created("ORD-2"), changed(S.CANCELLED, "ORD-2", hours=1))
        assert verify(engine).count == 0
        with engine.begin() as conn:
            conn.execute(text("UPDATE sales SET status = 'lost' WHERE order_id = 'ORD-2'"))
        assert verify(engine).count == 1
        rebuild_sales(engine)
        assert verify(engine).count == 0
        assert sale(engine, "ORD-2")["status"] == "cancelled"

    @settings(
        max_examples=25,
        deadline=None,
        # one test, one executor per backend subclass: that is the design here
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(events=event_streams(), seed=st.integers(0, 2**32))
    def test_any_permutation_duplication_and_batching_gives_the_same_database(
        self, engine: Engine, events: list[Event], seed: int
    ) -> None:
        rng = random.Random(seed)
        reset(engine)
        for event in sorted(events, key=lambda e: (e.occurred_at, str(e.event_id))):
            apply(engine, event)  # the in-order stream, one event at a time
        with engine.connect() as conn:
            expected = snapshot(conn)
        messy = events + [rng.choice(events) for _ in range(rng.randint(0, len(events)))]
        rng.shuffle(messy)
        reset(engine)
        while messy:
            size = rng.randint(1, 6)
            apply(engine, *messy[:size])
            messy = messy[size:]
        with engine.connect() as conn:
            got = snapshot(conn)
        assert describe_differences(expected, got) == []
        assert verify(engine).count == 0
        # and it is the state the domain fold implies
        for order_id, summary in fold(events).items():
            row = sale(engine, order_id)
            assert row["status_event_id"] == str(summary.status_event_id)
            assert bool(row["awaiting_creation"]) == summary.awaiting_creation

    def test_partition_claims_fence_earlier_owners_and_forget_other_topics(
        self, engine: Engine
    ) -> None:
        """The owner epoch and topic id of ``consumer_offsets``, the same on both backends."""

        def run(work):  # type: ignore[no-untyped-def]
            with SqlUnitOfWork(engine) as uow:
                result = work(uow.orders)
                uow.commit()
            return result

        tp = ("order-created", 0)
        first = run(lambda o: o.claim_partitions("g", [tp]))[tp]
        assert (first.epoch, first.next_offset, first.topic_id) == (1, 0, None)
        run(lambda o: o.record_offsets("g", {tp: 100}, {tp: PartitionOwner(first.epoch, "id-A")}))
        second = run(lambda o: o.claim_partitions("g", [tp]))[tp]
        assert (second.epoch, second.next_offset, second.topic_id) == (2, 100, "id-A")
        # the first owner, still holding epoch 1, can no longer record anything
        with pytest.raises(PartitionFenced):
            run(lambda o: o.record_offsets("g", {tp: 150}, {tp: PartitionOwner(1, "id-A")}))
        # under its own epoch the offset only moves forward...
        run(lambda o: o.record_offsets("g", {tp: 90}, {tp: PartitionOwner(2, "id-A")}))
        assert run(lambda o: o.read_offsets("g", [tp])) == {tp: 100}
        # ...unless the topic changed: an offset of another topic id is replaced
        run(lambda o: o.record_offsets("g", {tp: 5}, {tp: PartitionOwner(2, "id-B")}))
        assert run(lambda o: o.read_offsets("g", [tp])) == {tp: 5}
        run(lambda o: o.reset_offsets("g", {tp: "id-C"}))
        third = run(lambda o: o.claim_partitions("g", [tp]))[tp]
        assert (third.epoch, third.next_offset, third.topic_id) == (3, 0, "id-C")


class TestSqliteRepository(RepositoryContract):
    def url(self, request: pytest.FixtureRequest) -> str:
        return str(request.getfixturevalue("sqlite_url"))

    def test_rows_travel_as_values_lists(self, engine: Engine) -> None:
        with SqlUnitOfWork(engine) as uow:
            assert isinstance(uow.orders, SqliteOrderRepository)

    @pytest.mark.parametrize("heads_read", [True, False])
    def test_the_upsert_reports_the_state_its_rows_hold(
        self, engine: Engine, heads_read: bool
    ) -> None:
        # worked out from the heads this transaction read, or read back without them
        apply(engine, created("A"), changed(S.PACKED, "A", hours=5), changed(S.APPROVED, "B"))
        batch = [changed(S.APPROVED, "A", hours=1), changed(S.SHIPPED, "B", hours=3)]
        prepared = prepare([ReceivedEvent(e) for e in [*batch, created("B"), created("C")]])
        with SqlUnitOfWork(engine) as uow:
            if heads_read:
                uow.orders.read_heads(prepared.by_order.keys())
            states = uow.orders.upsert_sales(list(prepared.folded.values()))
            held = uow.connection.execute(
                text("SELECT order_id, status_event_id, awaiting_creation, event_count FROM sales")
            ).all()
        assert {s.order_id: s for s in states} == {
            order: SaleState(order, event_id, bool(awaiting), count)
            for order, event_id, awaiting, count in held
        }
        assert {s.order_id: s.event_count for s in states} == {"A": 3, "B": 3, "C": 1}

    def test_nulls_and_flags_are_stored_as_nulls_and_integers(self, engine: Engine) -> None:
        # the repository binds a NULL as a NaN and a flag as 0/1 (the driver's fast path)
        creation, orphan = created(), changed(S.SHIPPED, "ORD-2")
        apply(engine, creation, orphan)
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT typeof(customer_id), typeof(unit_price), typeof(shipped_at),"
                    " typeof(delivered_at), awaiting_creation FROM sales WHERE order_id = 'ORD-2'"
                )
            ).one()
            assert tuple(stored) == ("null", "null", "integer", "null", 1)
            flags = conn.execute(
                text(
                    "SELECT event_id, typeof(source_topic), typeof(source_offset), legal"
                    " FROM order_history"
                )
            ).all()
            assert {e: rest for e, *rest in flags} == {
                str(creation.event_id): ["null", "null", 1],
                str(orphan.event_id): ["null", "null", None],
            }
        assert sale(engine)["awaiting_creation"] == 0
        assert sale(engine)["unit_price"] == 9.99  # stored as a REAL
        with pytest.raises(IntegrityError, match="NOT NULL"), engine.begin() as conn:
            conn.exec_driver_sql("UPDATE sales SET status = ?", (float("nan"),))  # NaN is NULL


class TestPostgresRepository(RepositoryContract):
    def url(self, request: pytest.FixtureRequest) -> str:
        return str(request.getfixturevalue("pg_database_url"))

    def test_rows_travel_through_copy_staging(self, engine: Engine) -> None:
        with SqlUnitOfWork(engine) as uow:
            assert isinstance(uow.orders, PostgresOrderRepository)
            event = created()
            written = uow.orders.append_history({str(event.event_id): ReceivedEvent(event)})
            assert written == [ReceivedEvent(event)]
            staged = uow.connection.execute(text("SELECT to_regclass('sla_stage_order_history')"))
            assert staged.scalar_one() is not None

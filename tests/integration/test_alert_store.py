"""SLA alerts in the database: decided with the batch, queued, swept, guarded --
the same contract on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from consumer.alerts import AlertDesk
from consumer.apply import apply_batch
from consumer.batch import ReceivedEvent
from consumer.ports import AlertChange
from domain.alerts import AlertedState, SlaAlert
from domain.events import Event
from domain.lifecycle import OrderStatus as S
from domain.sla import SlaState
from infra.bootstrap import alert_repository
from infra.db.alerts import SqlAlertRepository
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.models import Base
from infra.db.unit_of_work import SqlUnitOfWork
from tests.support.builders import T0, changed, created

pytestmark = pytest.mark.integration
H = timedelta(hours=1)


class UnusedSink:
    """The alert topic is not part of this contract (tests/faults/test_alerts.py uses it)."""

    def topic_exists(self) -> bool | None:
        return True

    def publish(self, alerts: Sequence[SlaAlert]) -> None:
        raise AssertionError("nothing is published in the database contract")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url_fixture = "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    db = make_engine(request.getfixturevalue(url_fixture))
    upgrade(db)
    yield db
    db.dispose()


def desk(engine: Engine, now: datetime | None = None) -> AlertDesk:
    return AlertDesk(
        alert_repository,
        lambda: SqlUnitOfWork(engine),
        UnusedSink(),
        sweep_every_s=1.0,
        clock=lambda: now or T0,
    )


def apply(engine: Engine, alerts: AlertDesk, *events: Event) -> int:
    outcome = apply_batch(
        [ReceivedEvent(e) for e in events], SqlUnitOfWork(engine), after_apply=alerts.in_batch
    )
    return outcome.alerts


def queued(engine: Engine) -> list[SlaAlert]:
    with SqlUnitOfWork(engine) as uow:
        return SqlAlertRepository(uow.connection).pending(100)


def counts(engine: Engine) -> dict[SlaState, int]:
    with SqlUnitOfWork(engine) as uow:
        return SqlAlertRepository(uow.connection).count_alerting()


def promised(order_id: str, hours: float) -> Event:
    return created(order_id, promised_delivery_at=T0 + hours * H)


def test_migration_creates_the_alert_tables_as_modelled(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "sla_alert" in repr(d)] == []


def test_batches_queue_entering_and_leaving_alerts_once(engine: Engine) -> None:
    alerts = desk(engine)
    order = f"ORD-{uuid4().hex[:8]}"
    assert apply(engine, alerts, promised(order, 4)) == 0  # on track at its creation
    shipped = changed(S.APPROVED, order, hours=1), changed(S.PACKED, order, hours=2)
    assert apply(engine, alerts, *shipped) == 0
    late_ship = changed(S.SHIPPED, order, hours=3.5)  # 0.5 h of 4 h left: at risk
    assert apply(engine, alerts, late_ship) == 1
    assert apply(engine, alerts, late_ship) == 0  # a replayed batch changes nothing
    assert counts(engine) == {SlaState.AT_RISK: 1}
    delivered = changed(S.OUT_FOR_DELIVERY, order, hours=4.5), changed(S.DELIVERED, order, hours=5)
    assert apply(engine, alerts, *delivered) == 1
    first, second = queued(engine)
    assert (first.state, first.previous_state, first.reason.value) == (
        SlaState.AT_RISK,
        None,
        "deadline_near",
    )
    assert first.episode_start == T0 + 3 * H and first.caused_by_event_at == T0 + 3.5 * H
    assert (second.state, second.previous_state, second.reason.value) == (
        SlaState.MISSED,
        SlaState.AT_RISK,
        "delivered",
    )
    assert second.as_of == T0 + 5 * H and second.deadline_at == T0 + 4 * H
    assert counts(engine) == {}
    with SqlUnitOfWork(engine) as uow:
        SqlAlertRepository(uow.connection).forget([str(first.alert_id)])
        uow.commit()
    assert queued(engine) == [second]


def test_sweep_announces_a_deadline_crossed_without_events(engine: Engine) -> None:
    order = f"ORD-{uuid4().hex[:8]}"
    assert apply(engine, desk(engine), promised(order, 4)) == 0
    assert desk(engine, T0 + 2 * H).sweep() == 0  # half the window left: on track
    assert desk(engine, T0 + 5 * H).sweep() == 1
    assert desk(engine, T0 + 6 * H).sweep() == 0  # announced once
    (alert,) = queued(engine)
    assert (alert.state, alert.previous_state, alert.reason.value) == (
        SlaState.BREACHED,
        None,
        "deadline_passed",
    )
    assert alert.caused_by_event_at is None and alert.episode_start == T0 + 4 * H
    assert counts(engine) == {SlaState.BREACHED: 1}
    gauge = desk(engine)
    gauge.refresh_gauge()
    sample = gauge.metrics.registry.get_sample_value
    assert sample("sla_pipeline_orders_alerting", {"state": "breached"}) == 1
    assert sample("sla_pipeline_orders_alerting", {"state": "at_risk"}) == 0


def test_a_change_from_a_state_no_longer_held_is_not_recorded(engine: Engine) -> None:
    order = f"ORD-{uuid4().hex[:8]}"
    assert apply(engine, desk(engine), promised(order, 4)) == 0
    assert desk(engine, T0 + 5 * H).sweep() == 1
    (breached,) = queued(engine)
    # a writer that read the order before the sweep recorded its breach
    stale = AlertChange(breached, None, AlertedState(SlaState.BREACHED, T0 + 4 * H, T0 + 5 * H))
    moved = AlertedState(SlaState.AT_RISK, T0 + 3 * H, T0 + 3 * H)
    also_stale = AlertChange(breached, moved, AlertedState(SlaState.BREACHED, T0, T0))
    with SqlUnitOfWork(engine) as uow:
        assert SqlAlertRepository(uow.connection).record([stale, also_stale]) == []
        uow.commit()
    assert queued(engine) == [breached]


def test_a_late_old_event_of_a_delivered_order_announces_nothing(engine: Engine) -> None:
    alerts = desk(engine)
    order = f"ORD-{uuid4().hex[:8]}"
    steps = [(S.APPROVED, 1), (S.PACKED, 2), (S.SHIPPED, 2.5), (S.OUT_FOR_DELIVERY, 2.8)]
    journey = [changed(status, order, hours=hours) for status, hours in steps]
    assert apply(engine, alerts, promised(order, 4), *journey, changed(S.DELIVERED, order, 3)) == 0
    # a failed attempt before the delivery, arriving last and alone: as of its own time
    # the order would be at risk, but it is known delivered (met) by then
    assert apply(engine, alerts, changed(S.DELIVERY_FAILED, order, hours=2.9)) == 0
    assert queued(engine) == [] and counts(engine) == {}

"""Composition root: builds the concrete adapters from settings, on demand.

Nothing here connects at import time; each builder connects only when the
returned object is first used.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from consumer.alerts import AlertDesk
from consumer.fault_hook import pause_from_environment
from consumer.metrics import ConsumerMetrics
from consumer.ports import UnitOfWork
from consumer.retry import Backoff
from consumer.shutdown import StopFlag
from consumer.worker import Worker, WorkerConfig
from infra.db.alerts import SqlAlertRepository
from infra.db.engine import make_engine
from infra.db.ledger import SqlPartitionLedger
from infra.db.migrate import upgrade
from infra.db.unit_of_work import SqlUnitOfWork
from infra.kafka.alerts import KafkaAlertSink
from infra.kafka.consumer import KafkaMessageSource
from infra.kafka.dead_letter_sink import KafkaDeadLetterSink
from infra.settings import Settings


def database_engine(settings: Settings) -> Engine:
    """The engine for ``settings.database_url`` (not connected yet)."""
    return make_engine(settings.database_url_value())


def unit_of_work_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A fresh unit of work per call, on ``engine``."""
    return lambda: SqlUnitOfWork(engine)


def alert_repository(uow: UnitOfWork) -> SqlAlertRepository:
    """The alert repository on the connection of an open SQL unit of work."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError(f"SLA alerts need a SQL unit of work, not {type(uow).__name__}")
    return SqlAlertRepository(uow.connection)


def alert_desk(
    settings: Settings, engine: Engine, metrics: ConsumerMetrics | None = None
) -> AlertDesk:
    """SLA alerts recorded in ``engine``'s database and published to ``settings.topic_alerts``."""
    return AlertDesk(
        alert_repository,
        unit_of_work_factory(engine),
        KafkaAlertSink(settings.kafka_client_config(), settings.topic_alerts),
        sweep_every_s=settings.alert_sweep_s,
        metrics=metrics,
    )


def migrated_engine(settings: Settings) -> Engine:
    """The engine, with the database migrated to the newest revision.

    Raises ``InfrastructureError`` when the database cannot be reached.
    """
    engine = database_engine(settings)
    upgrade(engine)
    return engine


def build_worker(
    settings: Settings,
    engine: Engine,
    *,
    until_idle_s: float | None = None,
    max_events: int | None = None,
    metrics: ConsumerMetrics | None = None,
    stop: StopFlag | None = None,
    seek_to_database: bool = True,
    backoff: Backoff | None = None,
    instance_id: str | None = None,
    alerts: bool = True,
    tune_interpreter: bool = False,
) -> Worker:
    """A worker for ``settings.consumer_group`` on both event topics (publishing SLA
    alerts unless ``alerts`` is false). ``tune_interpreter`` is for a process that
    runs only this worker (``consumer.tuning``); the fault suite's hook is read from
    the environment here, once (``consumer.fault_hook``).

    Raises ``InfrastructureError`` when the Kafka clients cannot be created.
    """
    unit_of_work = unit_of_work_factory(engine)
    metrics = metrics or ConsumerMetrics()  # one registry for the loop and its alerts
    group = settings.consumer_group
    client = settings.kafka_client_config()
    source = KafkaMessageSource(
        client,
        group,
        settings.topics,
        ledger=SqlPartitionLedger(unit_of_work, group),
        seek_to_database=seek_to_database,
        instance_id=instance_id,
    )
    config = WorkerConfig(
        consumer_group=group,
        batch_size=settings.batch_size,
        batch_wait_s=settings.batch_wait_s,
        until_idle_s=until_idle_s,
        max_events=max_events,
        backoff=backoff or Backoff(),
        tune_interpreter=tune_interpreter,
        pause_before_offset_commit_s=pause_from_environment(),
    )
    return Worker(
        source,
        unit_of_work,
        KafkaDeadLetterSink(client, settings.topic_dlq),
        config,
        metrics=metrics,
        stop=stop,
        alerts=alert_desk(settings, engine, metrics) if alerts else None,
    )


def bounded_engine(settings: Settings, timeout_s: float) -> Engine:
    """An engine whose connects and statements give up after about ``timeout_s``
    (for health checks, which must answer fast rather than wait on a stuck server).

    Raises ``sqlalchemy.exc.ArgumentError`` or ``NotImplementedError`` as
    ``make_engine`` does.
    """
    url = settings.database_url_value()
    seconds = max(1, round(timeout_s))
    if url.startswith("postgresql"):
        bound = {"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"}
        return make_engine(url, connect_args=bound)
    return make_engine(url, connect_args={"timeout": timeout_s})

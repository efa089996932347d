"""Composition root: builds every concrete adapter from settings, on demand.

The command line only parses flags, calls a builder here and prints. Nothing
connects at import time; each builder connects only when the returned object is
first used (or says when it checks the cluster first).

Each builder imports its adapter when it is called, not when this module is
loaded: ``report`` needs one engine and must not load the Kafka client, the
consumer or Alembic to get it (``cli.commands`` loads a command's module only
when it runs, for the same reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from infra.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from consumer.alerts import AlertDesk
    from consumer.metrics import ConsumerMetrics
    from consumer.ports import UnitOfWork
    from consumer.retry import Backoff
    from consumer.shutdown import StopFlag
    from consumer.worker import Worker
    from infra.db.alerts import SqlAlertRepository
    from infra.db.unit_of_work import SqlUnitOfWork
    from infra.kafka.dead_letters import DeadLetterTopic
    from infra.kafka.pipeline_topics import PipelineTopics
    from infra.kafka.producer import KafkaEventPublisher
    from producer.publish import TopicNames

#: How long a command waits for the cluster's first answer before giving up.
CONNECT_TIMEOUT_S = 10.0


def database_engine(settings: Settings) -> Engine:
    """The engine for ``settings.database_url`` (not connected yet)."""
    from infra.db.engine import make_engine

    return make_engine(settings.database_url_value())


def report_engine(settings: Settings) -> Engine:
    """The engine reads go to (report, order, status): ``report_database_url`` (a hot
    standby, say), else ``database_url``. Not connected yet.

    Raises ``sqlalchemy.exc.ArgumentError`` or ``NotImplementedError`` as
    ``make_engine`` does.
    """
    from infra.db.engine import make_engine

    return make_engine(settings.report_database_url_value())


def bounded_report_engine(settings: Settings, timeout_s: float) -> Engine:
    """:func:`report_engine` whose connects and statements give up after about
    ``timeout_s`` (for health checks, which must answer fast rather than wait on a
    stuck server).

    Raises ``sqlalchemy.exc.ArgumentError`` or ``NotImplementedError`` as
    ``make_engine`` does.
    """
    from infra.db.backend import backend_named
    from infra.db.engine import make_engine, normalize_url

    url = normalize_url(settings.report_database_url_value())
    bounded = backend_named(url.get_backend_name()).bounded_connect_args(timeout_s)
    return make_engine(url, connect_args=bounded)


def migrated_engine(settings: Settings) -> Engine:
    """The engine, with the database migrated to the newest revision.

    Raises ``InfrastructureError`` when the database cannot be reached.
    """
    from infra.db.migrate import upgrade

    engine = database_engine(settings)
    upgrade(engine)
    return engine


def unit_of_work_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A fresh unit of work per call, on ``engine``."""
    from infra.db.unit_of_work import SqlUnitOfWork

    return lambda: SqlUnitOfWork(engine)


def alert_repository(uow: UnitOfWork) -> SqlAlertRepository:
    """The alert repository on the connection of an open SQL unit of work."""
    from infra.db.alerts import SqlAlertRepository
    from infra.db.unit_of_work import SqlUnitOfWork

    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError(f"SLA alerts need a SQL unit of work, not {type(uow).__name__}")
    return SqlAlertRepository(uow.connection)


def alert_desk(
    settings: Settings, engine: Engine, metrics: ConsumerMetrics | None = None
) -> AlertDesk:
    """SLA alerts recorded in ``engine``'s database and published to ``settings.topic_alerts``."""
    from consumer.alerts import AlertDesk
    from infra.kafka.alerts import KafkaAlertSink

    return AlertDesk(
        alert_repository,
        unit_of_work_factory(engine),
        KafkaAlertSink(settings.kafka_client_config(), settings.topic_alerts),
        sweep_every_s=settings.alert_sweep_s,
        metrics=metrics,
    )


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
    from consumer.fault_hook import pause_from_environment
    from consumer.metrics import ConsumerMetrics
    from consumer.retry import Backoff
    from consumer.worker import Worker, WorkerConfig
    from infra.db.ledger import SqlPartitionLedger
    from infra.kafka.consumer import KafkaMessageSource
    from infra.kafka.dead_letter_sink import KafkaDeadLetterSink

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


def event_publisher(
    settings: Settings, connect_timeout_s: float | None = None
) -> KafkaEventPublisher:
    """The producer's publisher, once the cluster has answered.

    Asking first makes a wrong address or a broker that is down fail in seconds with a
    reason, rather than after every message has timed out. Raises ``KafkaException``
    for an invalid configuration and ``BrokerUnreachable`` when no broker answers in
    ``connect_timeout_s`` (default :data:`CONNECT_TIMEOUT_S`).
    """
    from infra.kafka.producer import KafkaEventPublisher

    publisher = KafkaEventPublisher(settings.kafka_client_config())
    publisher.ensure_reachable(connect_timeout_s or CONNECT_TIMEOUT_S)
    return publisher


def topic_names(settings: Settings) -> TopicNames:
    """Where the producer sends each kind of event."""
    from producer.publish import TopicNames

    return TopicNames(settings.topic_order_created, settings.topic_status_changed)


def dead_letter_topic(settings: Settings) -> DeadLetterTopic:
    """The dead-letter topic, to list and redrive letters (not connected yet)."""
    from infra.kafka.dead_letters import DeadLetterTopic

    return DeadLetterTopic(settings.kafka_client_config(), settings.topic_dlq)


def pipeline_topics(settings: Settings) -> PipelineTopics:
    """The pipeline's topics, to create them (not connected yet)."""
    from infra.kafka.pipeline_topics import PipelineTopics

    return PipelineTopics(
        settings.kafka_client_config(), settings.topics, settings.topic_dlq, settings.topic_alerts
    )

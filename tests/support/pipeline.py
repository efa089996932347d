"""A faulted event stream published to Kafka, and the offsets to compare a run against."""

from __future__ import annotations

from collections import Counter

from confluent_kafka import Consumer, TopicPartition

from cli.demo import fault_config
from consumer.embedded import ingest_events
from infra.bootstrap import unit_of_work_factory
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.snapshot import snapshot
from infra.kafka.dead_letters import read_dead_letters
from infra.kafka.producer import DeliveryCounter, build_producer, drain, send
from infra.settings import Settings
from producer.faults import FaultedStream, inject_faults
from producer.simulation import SimulationConfig, simulate

NO_RETENTION = {"retention.ms": "-1"}  # simulated event times are in the past


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """``settings`` as the ``SLA_*`` environment of a ``sla-pipeline`` process."""
    return {
        "SLA_DATABASE_URL": settings.database_url_value(),
        "SLA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SLA_TOPIC_ORDER_CREATED": settings.topic_order_created,
        "SLA_TOPIC_STATUS_CHANGED": settings.topic_status_changed,
        "SLA_TOPIC_DLQ": settings.topic_dlq,
        "SLA_CONSUMER_GROUP": settings.consumer_group,
        "SLA_BATCH_SIZE": str(settings.batch_size),
        "SLA_BATCH_WAIT_S": str(settings.batch_wait_s),
        **extra,
    }


def faulted_stream(orders: int, seed: int) -> FaultedStream:
    return inject_faults(simulate(SimulationConfig(orders=orders, seed=seed)), fault_config(), seed)


def publish(bootstrap: str, settings: Settings, stream: FaultedStream) -> None:
    counter = DeliveryCounter()
    producer = build_producer({"bootstrap.servers": bootstrap}, counter)
    topics = {
        "order-created": settings.topic_order_created,
        "status-changed": settings.topic_status_changed,
    }
    for m in stream.messages:
        send(producer, topics[m.topic_kind], m.key, m.value, m.timestamp_ms)
    assert drain(producer, 120) == 0
    assert counter.failed == 0, counter.errors


def oracle_snapshot(
    stream: FaultedStream, sqlite_path: str
) -> dict[str, dict[str, tuple[object, ...]]]:
    """The valid events ingested in order through the same apply path, elsewhere."""
    engine = make_engine(f"sqlite:///{sqlite_path}")
    upgrade(engine)
    ingest_events(stream.valid_events, unit_of_work_factory(engine), batch_size=500)
    with engine.connect() as conn:
        result = snapshot(conn)
    engine.dispose()
    return result


def committed(
    bootstrap: str, group: str, topics: list[str], partitions: int
) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(tps, timeout=30)}
    finally:
        consumer.close()


def ends(bootstrap: str, topics: list[str], partitions: int) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return {
            (t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=30)[1]
            for t in topics
            for p in range(partitions)
        }
    finally:
        consumer.close()


def dead_letter_pairs(settings: Settings) -> Counter[tuple[bytes, str]]:
    return Counter(
        (letter.value or b"", letter.reason)
        for letter in read_dead_letters(settings.kafka_client_config(), settings.topic_dlq)
    )


def expected_dead_letters(stream: FaultedStream) -> Counter[tuple[bytes, str]]:
    return Counter(
        (m.value, m.expected_reason.value) for m in stream.malformed if m.expected_reason
    )

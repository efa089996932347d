"""First proof of the plumbing: real Kafka -> consumer group with manual commits -> real DB.

No pipeline code is used: this checks the brokers, drivers and fixtures that the pipeline
stands on, and the commit order it relies on (database transaction first, Kafka offsets last).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from devservices import LocalKafka, LocalPostgres
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration

MESSAGES = 200
KEYS = 40
PARTITIONS = 6

metadata = sa.MetaData()
received = sa.Table(
    "plumbing_received",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),  # a duplicate delivery would violate it
    sa.Column("message_key", sa.String(64), nullable=False),
    sa.Column("kafka_partition", sa.Integer, nullable=False),
    sa.Column("kafka_offset", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.UniqueConstraint("kafka_partition", "kafka_offset"),
)

Delivered = dict[int, tuple[str, int, int]]  # seq -> (key, partition, offset)


def key_of(seq: int) -> str:
    return f"order-{seq % KEYS:03d}"


def produce(bootstrap: str, topic: str, seqs: range) -> Delivered:
    """Publish one JSON message per seq and return what the delivery reports confirmed."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    delivered: Delivered = {}
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
            return
        seq = json.loads(msg.value() or b"null")["seq"]
        delivered[seq] = ((msg.key() or b"").decode(), msg.partition() or 0, msg.offset() or 0)

    for seq in seqs:
        value = json.dumps({"seq": seq, "order_id": key_of(seq)}).encode()
        producer.produce(topic, key=key_of(seq).encode(), value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0, "messages still queued after 30 s"
    assert errors == []
    assert sorted(delivered) == list(seqs)
    return delivered


def consume_into_database(
    engine: sa.Engine, bootstrap: str, topic: str, group_id: str, *, expected: int, partitions: int
) -> tuple[dict[int, int], dict[int, int]]:
    """Consume ``expected`` messages, write each batch in one transaction, then commit offsets.

    Returns (committed offsets, end offsets) per partition.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + 90
    try:
        while seen < expected:
            assert time.monotonic() < deadline, f"only {seen} of {expected} messages arrived"
            batch = consumer.consume(num_messages=50, timeout=1.0)
            rows: list[dict[str, Any]] = []
            next_offsets: dict[int, int] = {}
            for msg in batch:
                if (error := msg.error()) is not None:
                    raise KafkaException(error)
                partition, offset = msg.partition() or 0, msg.offset() or 0
                rows.append(
                    {
                        "seq": json.loads(msg.value() or b"null")["seq"],
                        "message_key": (msg.key() or b"").decode(),
                        "kafka_partition": partition,
                        "kafka_offset": offset,
                        "payload": json.loads(msg.value() or b"null"),
                    }
                )
                next_offsets[partition] = max(next_offsets.get(partition, 0), offset + 1)
            if not rows:
                continue
            with engine.begin() as conn:
                conn.execute(sa.insert(received), rows)
            # Only now, with the rows durable, may the group move on: a crash replays, never loses.
            commits = [TopicPartition(topic, p, o) for p, o in next_offsets.items()]
            consumer.commit(offsets=commits, asynchronous=False)
            seen += len(rows)
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(assigned, timeout=10)}
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in assigned}
    finally:
        consumer.close()
    return committed, ends


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same write path runs against a fresh PostgreSQL database and a SQLite file."""
    fixture = "pg_database_url" if request.param == "postgres" else "sqlite_url"
    url: str = request.getfixturevalue(fixture)
    return url


def test_every_message_lands_exactly_once_and_offsets_follow_the_database(
    kafka_bootstrap: str, topic_factory: TopicFactory, group_id: str, database_url: str
) -> None:
    topic = topic_factory("plumbing", partitions=PARTITIONS)
    delivered = produce(kafka_bootstrap, topic, range(MESSAGES))
    engine = sa.create_engine(database_url)
    try:
        metadata.create_all(engine)
        committed, ends = consume_into_database(
            engine, kafka_bootstrap, topic, group_id, expected=MESSAGES, partitions=PARTITIONS
        )
        with engine.connect() as conn:
            rows = conn.execute(sa.select(received).order_by(received.c.seq)).all()
    finally:
        engine.dispose()

    assert [row.seq for row in rows] == list(range(MESSAGES))  # all there, none twice
    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        assert row.message_key == key_of(row.seq) == row.payload["order_id"]
        assert (row.message_key, row.kafka_partition, row.kafka_offset) == delivered[row.seq]
        partitions_of_key[row.message_key].add(row.kafka_partition)
    assert all(len(parts) == 1 for parts in partitions_of_key.values()), partitions_of_key
    assert len({p for parts in partitions_of_key.values() for p in parts}) > 1
    assert committed == ends
    assert sum(ends.values()) == MESSAGES


@pytest.mark.parametrize("graceful", [True, False], ids=["clean-stop", "crash"])
def test_native_services_restart_on_the_same_port_with_their_data(
    graceful: bool,
    kafka_service: LocalKafka | None,
    postgres_service: LocalPostgres | None,
    topic_factory: TopicFactory,
    group_id: str,
    pg_database_url: str,
) -> None:
    if kafka_service is None or postgres_service is None:
        pytest.skip("needs the native services (not external ones) to stop and restart them")
    topic = topic_factory("restart", partitions=2)
    produce(kafka_service.bootstrap, topic, range(10))
    engine = sa.create_engine(pg_database_url, pool_pre_ping=True)
    try:
        metadata.create_all(engine)
        kafka_port, pg_port = kafka_service.port, postgres_service.port

        kafka_service.stop(keep_data=True, graceful=graceful)
        postgres_service.stop(keep_data=True, graceful=graceful)
        assert not kafka_service.is_running() and not postgres_service.is_running()
        kafka_service.start()
        postgres_service.start()

        assert (kafka_service.port, postgres_service.port) == (kafka_port, pg_port)
        committed, ends = consume_into_database(
            engine, kafka_service.bootstrap, topic, group_id, expected=10, partitions=2
        )
        with engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(received)).scalar_one()
    finally:
        engine.dispose()
    assert count == 10
    assert committed == ends

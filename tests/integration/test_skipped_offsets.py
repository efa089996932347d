"""A committed offset whose messages Kafka deleted before they were read: the worker's
consumer reads on from the partition's new start, and says so at WARNING."""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from infra.kafka.consumer import KafkaMessageSource
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration

MESSAGES = 10
COMMITTED = 2  # where the group stopped reading
DELETED_BEFORE = 6  # the partition's start once retention has run


def test_messages_deleted_under_the_committed_offset_are_reported(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topic_factory: TopicFactory,
    group_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = topic_factory("skipped")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for n in range(MESSAGES):
        producer.produce(topic, f"m{n}".encode(), b"key")
    assert producer.flush(30) == 0
    client = {"bootstrap.servers": kafka_bootstrap}
    source = KafkaMessageSource(client, group_id, [topic])
    try:
        source.commit({(topic, 0): COMMITTED})
        # what a retention check does to the oldest segments, here at an exact offset
        deleted = kafka_admin.delete_records([TopicPartition(topic, 0, DELETED_BEFORE)])
        low = next(iter(deleted.values())).result(timeout=30)
        assert low.low_watermark == DELETED_BEFORE
        caplog.set_level(logging.DEBUG, logger="librdkafka")
        read: list[int] = []
        deadline = time.monotonic() + 30
        while len(read) < MESSAGES - DELETED_BEFORE and time.monotonic() < deadline:
            read += [m.position.offset for m in source.poll_batch(MESSAGES, 0.5)]
    finally:
        source.close()
    assert read == list(range(DELETED_BEFORE, MESSAGES))  # offsets 2..5 were never read
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "librdkafka" and r.levelno == logging.WARNING
    ]
    assert any(
        "read position was reset" in w and f"{topic} [0]" in w and "offset 2" in w for w in warnings
    ), warnings

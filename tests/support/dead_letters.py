"""Settings, CLI runs and topic reads for dead-letter tests against a real broker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from click.testing import CliRunner
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from cli.main import cli
from infra.settings import Settings
from tests.support.pipeline import NO_RETENTION, settings_env


def make_settings(
    url: str, bootstrap: str, topic_factory: Callable[..., str], group: str, dlq_partitions: int = 1
) -> Settings:
    return Settings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        topic_order_created=topic_factory("order-created", config=NO_RETENTION),
        topic_status_changed=topic_factory("status-changed", config=NO_RETENTION),
        topic_dlq=topic_factory("dlq", partitions=dlq_partitions, config=NO_RETENTION),
        consumer_group=group,
        batch_size=100,
        batch_wait_s=0.2,
    )


def sla(settings: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the real ``sla-pipeline`` command in this process (a subprocess costs a second
    of imports per call); (exit code, stdout, stderr). An unexpected exception (what
    would print a traceback) fails the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = CliRunner().invoke(cli, list(args), env=settings_env(settings, **env))
    finally:  # the command points logging at the runner's stream, closed after the call
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


def publish(
    bootstrap: str,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes, Sequence[tuple[str, bytes]]]],
    partition: int = -1,  # -1: by key
) -> list[Message]:
    """Publish one at a time (offsets follow the list order); the acknowledged messages."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    landed: list[Message] = []
    for key, value, headers in messages:
        producer.produce(
            topic,
            key=key,
            value=value,
            headers=list(headers),
            partition=partition,
            on_delivery=lambda error, message: landed.append(message) if not error else None,
        )
        assert producer.flush(30) == 0
    assert len(landed) == len(messages)
    return landed


def read_topic(bootstrap: str, topic: str) -> list[Message]:
    """Every message now on partition 0 of ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-test-reader"})
    try:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        found: list[Message] = []
        for _ in range(60):
            if len(found) >= high:
                break
            found += consumer.consume(num_messages=high - len(found), timeout=0.5)
        assert [m.offset() for m in found] == list(range(high)), f"{topic} not read"
        return found
    finally:
        consumer.close()

"""Scenario: messages the broker accepts but the dead-letter topic cannot hold whole.

An event topic whose ``max.message.bytes`` is raised to 6 MiB and one on the broker's
default limit (1,048,588 bytes) carry valid events mixed with a 1.01 MB value, a value
just under the default limit and a 5 MB value, while the dead-letter topic keeps the
default limit. The worker applies every valid event within seconds, never reports an
outage, and dead-letters each oversized message exactly once: whole when the letter
fits, otherwise truncated with the original size and SHA-256 in its headers.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from consumer.batch import RawMessage, Rejected, SourcePosition
from domain.codec import RejectReason
from infra.bootstrap import migrated_engine
from infra.kafka.dead_letter_sink import KafkaDeadLetterSink
from infra.kafka.dead_letters import read_dead_letters
from infra.settings import Settings
from tests.faults.helpers import (
    NO_RETENTION,
    PARTITIONS,
    faulted_stream,
    fully_committed,
    history_count,
    publish,
    report_figures,
    wait_until,
)
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]
#: Kafka's default topic limit (``message.max.bytes`` of the broker), from its documentation.
BROKER_DEFAULT_LIMIT = 1_048_588
RAISED_LIMIT = 6 * 1024 * 1024
#: The documented bound on what a truncated letter keeps of the value.
PREFIX_BOUND = 16 * 1024
ORDERS = 150


def big_value(size: int, rng: random.Random) -> bytes:
    """A JSON-looking value of ``size`` bytes whose content varies (so each SHA-256 differs)."""
    body = rng.randbytes(size // 2).hex().encode()
    return (b'{"pad":"' + body)[: size - 2] + b'"}'


def test_oversized_messages_are_dead_lettered_once_and_never_stop_the_worker(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    group_id: str,
    pg_database_url: str,
    seed: int,
) -> None:
    rng = random.Random(seed)
    settings = Settings(
        database_url=pg_database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_order_created=topic_factory(
            "order-created", partitions=PARTITIONS, config=NO_RETENTION
        ),
        topic_status_changed=topic_factory(
            "status-changed",
            partitions=PARTITIONS,
            config={**NO_RETENTION, "max.message.bytes": str(RAISED_LIMIT)},
        ),
        topic_dlq=topic_factory("dlq", partitions=1, config=NO_RETENTION),
        consumer_group=group_id,
        batch_size=250,
        batch_wait_s=0.2,
    )
    stream = faulted_stream(ORDERS, seed)
    key = stream.messages[0].key
    # (topic, value, letter expected whole): the 1.01 MB letter fits the DLQ's default
    # limit; the one just under the limit does not once the dlq.* headers are added
    oversized = [
        (settings.topic_order_created, big_value(1_010_000, rng), True),
        (settings.topic_order_created, big_value(BROKER_DEFAULT_LIMIT - 200, rng), False),
        (settings.topic_status_changed, big_value(5_000_000, rng), False),
    ]
    small_poison = [
        (t, b"not json " + t.encode(), RejectReason.INVALID_JSON) for t in settings.topics
    ]
    engine = migrated_engine(settings)
    half = len(stream.messages) // 2
    publish(settings, stream.messages[:half])
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 7_000_000})
    for topic, value, _whole in oversized:
        producer.produce(topic, key=key, value=value)
    for topic, value, _reason in small_poison:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(60) == 0
    publish(settings, stream.messages[half:])

    distinct = len({e.event_id for e in stream.valid_events})
    worker = WorkerThread(settings, engine).start()
    applied_in_time = wait_until(lambda: history_count(engine) == distinct, 30)
    assert applied_in_time, f"{history_count(engine)} of {distinct} valid events applied"
    assert wait_until(lambda: fully_committed(settings), 30), "consumer-group lag is not 0"
    assert worker.alive
    worker.stop()
    summary = worker.join()
    engine.dispose()
    assert worker.metrics.value("sla_pipeline_retries_total", kind="broker") == 0

    letters = list(read_dead_letters(settings.kafka_client_config(), settings.topic_dlq))
    per_source = Counter(letter.source for letter in letters)
    assert all(n == 1 for n in per_source.values()), f"letters published twice: {per_source}"
    by_value_size = {letter.original_size or len(letter.value or b""): letter for letter in letters}
    for topic, value, whole in oversized:
        letter = by_value_size[len(value)]
        assert letter.reason == RejectReason.OVERSIZED.value
        assert letter.source is not None and letter.source.topic == topic
        if whole:
            assert not letter.truncated and letter.value == value
            continue
        assert letter.truncated
        assert letter.original_size == len(value)
        assert letter.original_sha256 == hashlib.sha256(value).hexdigest()
        assert letter.value and len(letter.value) <= PREFIX_BOUND
        assert value.startswith(letter.value)
    small = Counter((lt.value, lt.reason) for lt in letters if not lt.truncated)
    for _topic, value, reason in small_poison:
        assert small[(value, reason.value)] == 1
    assert len(letters) == len(oversized) + len(small_poison)
    report_figures(
        "oversize",
        messages=len(stream.messages) + len(oversized) + len(small_poison),
        applied=summary.outcome.applied,
        dead_letters=len(letters),
        truncated=sum(letter.truncated for letter in letters),
    )


def reject(topic: str, offset: int, value: bytes) -> Rejected:
    raw = RawMessage(SourcePosition(topic, 0, offset), b"k", value, (("trace", b"t1"),))
    return Rejected(raw, RejectReason.OVERSIZED, f"{len(value)} bytes")


def test_a_letter_the_broker_refuses_as_too_large_is_published_truncated_once(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    limit = 200_000
    dlq = topic_factory("dlq", config={"max.message.bytes": str(limit)})
    client = {"bootstrap.servers": kafka_bootstrap}
    assert KafkaDeadLetterSink(client, dlq).max_message_bytes == limit  # read from the topic
    # a sink that believes the limit is librdkafka's default, as when the topic's
    # limit cannot be read: the broker itself refuses the large letter
    sink = KafkaDeadLetterSink(client, dlq, max_message_bytes=1_000_000)
    large = reject("source", 7, bytes(300_000))
    rejects = [reject("source", 6, b"x" * 100), large, reject("source", 8, b"y" * 100)]
    sink.publish(rejects)
    sink.publish(rejects)  # as the worker retries: confirmed letters are not sent again

    letters = list(read_dead_letters(client, dlq))
    assert sorted(lt.source.offset for lt in letters if lt.source) == [6, 7, 8]
    cut = next(lt for lt in letters if lt.truncated)
    assert cut.source == large.message.position
    assert cut.original_size == 300_000
    assert cut.original_sha256 == hashlib.sha256(bytes(300_000)).hexdigest()
    assert cut.original_headers == [("trace", b"t1")]
    assert [lt.value for lt in letters if not lt.truncated] == [b"x" * 100, b"y" * 100]

"""produce and replay on a real broker: exactly the expected messages, keys, partitions, times.

The Kafka timestamp of every message is its publish time (the event time is in the JSON).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from cli.main import cli
from infra.kafka.producer import KafkaEventPublisher
from producer.faults import FaultConfig
from producer.files import write_csv
from producer.messages import OutgoingMessage
from producer.publish import TopicNames, planned_messages, publish
from producer.simulation import SimulationConfig
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration

PARTITIONS = 3
FAULTS = FaultConfig(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.01)
Seen = tuple[bytes, bytes]  # key, value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _topics(topic_factory: TopicFactory) -> TopicNames:
    return TopicNames(
        topic_factory("order-created", partitions=PARTITIONS),
        topic_factory("status-changed", partitions=PARTITIONS),
    )


def _consume_all(
    bootstrap: str, topic: str, expected: int, until_idle_s: float = 0.0
) -> list[Message]:
    """At least ``expected`` messages of ``topic`` (and, with ``until_idle_s``, every
    one that comes until none has for that long)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    received: list[Message] = []
    deadline = time.monotonic() + 60
    try:
        while len(received) < expected and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                assert message.error() is None, message.error()
                received.append(message)
        # anything beyond what was expected would show up now
        received.extend(m for m in consumer.consume(1000, timeout=1.0) if m.error() is None)
        idle_since = time.monotonic()
        while until_idle_s and time.monotonic() - idle_since < until_idle_s:
            more = [m for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
            if more:
                received.extend(more)
                idle_since = time.monotonic()
            assert time.monotonic() < deadline + 60, "the topic never went quiet"
    finally:
        consumer.close()
    return received


def _check_topic(
    bootstrap: str, topic: str, sent: list[OutgoingMessage], published: tuple[int, int]
) -> None:
    """``sent`` is on ``topic`` exactly, stamped with a time within ``published`` (ms)."""
    received = _consume_all(bootstrap, topic, len(sent))
    assert sorted((m.key(), m.value()) for m in received) == sorted((s.key, s.value) for s in sent)
    first, last = published
    assert all(first - 1000 <= m.timestamp()[1] <= last + 1000 for m in received)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    by_partition: dict[int, list[Seen]] = defaultdict(list)
    for message in received:
        key, value, partition = message.key(), message.value(), message.partition()
        assert key is not None and value is not None and partition is not None
        if not key:
            continue  # an empty key (a malformed message) is placed at random, as no key is
        partitions[key].add(partition)
        by_partition[partition].append((key, value))
    assert all(len(p) == 1 for p in partitions.values())  # same key -> same partition
    # within one key, the broker holds the publish order
    for key, (partition,) in partitions.items():
        got = [seen for seen in by_partition[partition] if seen[0] == key]
        assert got == [(s.key, s.value) for s in sent if s.key == key]


def _split(messages: list[OutgoingMessage]) -> tuple[list[OutgoingMessage], ...]:
    created = [m for m in messages if m.topic_kind == "order-created"]
    changed = [m for m in messages if m.topic_kind == "status-changed"]
    return created, changed


def test_publish_puts_exactly_the_planned_messages(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topics = _topics(topic_factory)
    messages = list(planned_messages(SimulationConfig(orders=300, seed=31), FAULTS))
    publisher = KafkaEventPublisher({"bootstrap.servers": kafka_bootstrap})
    before = _now_ms()
    result = publish(messages, publisher, topics)
    published = (before, _now_ms())
    assert result.ok and result.delivered == len(messages)
    created, changed = _split(messages)
    _check_topic(kafka_bootstrap, topics.order_created, created, published)
    _check_topic(kafka_bootstrap, topics.status_changed, changed, published)


def _env(bootstrap: str, topics: TopicNames) -> dict[str, str]:
    return {
        "SLA_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SLA_TOPIC_ORDER_CREATED": topics.order_created,
        "SLA_TOPIC_STATUS_CHANGED": topics.status_changed,
    }


def test_produce_command(kafka_bootstrap: str, topic_factory: TopicFactory) -> None:
    topics = _topics(topic_factory)
    args = ["produce", "--orders", "100", "--seed", "3", "--duplicate-rate", "0.1"]
    start = "2025-01-06T00:00:00+00:00"
    before = _now_ms()
    result = CliRunner().invoke(cli, [*args, "--start", start], env=_env(kafka_bootstrap, topics))
    published = (before, _now_ms())
    assert result.exit_code == 0, result.output
    faults = FaultConfig(duplicate_rate=0.1)
    config = SimulationConfig(100, seed=3, start=datetime.fromisoformat(start))
    created, changed = _split(list(planned_messages(config, faults)))
    assert f"sent {len(created) + len(changed)}, failed 0" in result.output
    _check_topic(kafka_bootstrap, topics.order_created, created, published)
    _check_topic(kafka_bootstrap, topics.status_changed, changed, published)


def test_replay_reproduces_the_stream_and_rejects_bad_rows(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topics = _topics(topic_factory)
    messages = list(planned_messages(SimulationConfig(orders=200, seed=32), FAULTS))
    write_csv(messages, tmp_path)
    updates = tmp_path / "logistics_updates.csv"
    lines = updates.read_text(encoding="utf-8").splitlines()
    seq = lines[4].split(",")[0]
    lines.insert(5, f"{seq},not-a-uuid,1,ORD-X,2025-01-06T00:00:00Z,shipped")
    updates.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["replay", str(tmp_path / "orders_new.csv"), str(updates), "--max-speed"]
    before = _now_ms()
    result = CliRunner().invoke(cli, args, env=_env(kafka_bootstrap, topics))
    published = (before, _now_ms())
    assert result.exit_code == 0, result.output + result.stderr
    assert "rejected 1" in result.stdout
    assert f"{updates}:6: rejected: invalid_field" in result.stderr
    assert (tmp_path / "logistics_updates.csv.rejects").read_text().count("\n") == 1
    created, changed = _split([m for m in messages if m.event is not None])
    _check_topic(kafka_bootstrap, topics.order_created, created, published)
    _check_topic(kafka_bootstrap, topics.status_changed, changed, published)


def _retention(admin: AdminClient, topic: str, key: str = "retention.ms") -> tuple[str, bool]:
    """(retention.ms -- or ``key`` --, whether that is the broker default) of ``topic``."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    for _ in range(100):  # a new topic may take a moment to be known to every request path
        try:
            entry = admin.describe_configs([resource])[resource].result(timeout=30)[key]
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
            time.sleep(0.1)
            continue
        return entry.value, entry.is_default
    raise AssertionError(f"topic {topic} still unknown after 10 s")


def _topic_names(bootstrap: str, unique_id: str) -> tuple[list[str], dict[str, str]]:
    """Fresh names for created / changed / DLQ / alert topics, and the environment naming them."""
    names = [f"created-{unique_id}", f"changed-{unique_id}", f"dlq-{unique_id}"]
    names.append(f"alerts-{unique_id}")
    keys = ["SLA_TOPIC_ORDER_CREATED", "SLA_TOPIC_STATUS_CHANGED", "SLA_TOPIC_DLQ"]
    keys.append("SLA_TOPIC_ALERTS")
    return names, {"SLA_KAFKA_BOOTSTRAP_SERVERS": bootstrap, **dict(zip(keys, names, strict=True))}


def test_topics_create_sets_the_retention_of_the_event_topics(
    kafka_bootstrap: str, kafka_admin: AdminClient, unique_id: str
) -> None:
    names, env = _topic_names(kafka_bootstrap, unique_id)
    create = ["topics", "create", "--partitions", "1", "--retention-ms"]
    try:
        result = CliRunner().invoke(cli, [*create, "-1"], env=env)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        # a single broker: one replica, and the broker's own min.insync.replicas
        assert lines[0] == "replication 1, min.insync.replicas the broker's"
        assert lines[1:] == [f"{name}: created" for name in names]
        assert _retention(kafka_admin, names[0]) == ("-1", False)
        assert _retention(kafka_admin, names[1]) == ("-1", False)
        assert _retention(kafka_admin, names[2])[1]  # dead letters: the broker's retention
        # alerts: each order's latest is kept (compacted by key)
        assert _retention(kafka_admin, names[3], "cleanup.policy") == ("compact", False)
        # existing topics are kept as they are, and the output says so
        again = CliRunner().invoke(cli, [*create, "5000"], env=env)
        assert again.exit_code == 0, again.output
        assert f"{names[0]}: exists (its retention is left as it is)" in again.stdout
        assert f"{names[2]}: exists\n" in again.stdout
        assert _retention(kafka_admin, names[0]) == ("-1", False)
    finally:
        for future in kafka_admin.delete_topics(names, operation_timeout=30).values():
            future.exception(timeout=60)  # a topic that was never created is fine here


def test_topics_create_leaves_retention_to_the_broker_by_default(
    kafka_bootstrap: str, kafka_admin: AdminClient, unique_id: str
) -> None:
    names, env = _topic_names(kafka_bootstrap, unique_id)
    try:
        result = CliRunner().invoke(cli, ["topics", "create", "--partitions", "1"], env=env)
        assert result.exit_code == 0, result.output
        assert all(_retention(kafka_admin, name)[1] for name in names)
    finally:
        for future in kafka_admin.delete_topics(names, operation_timeout=30).values():
            future.exception(timeout=60)


def _occurred_at(message: Message) -> datetime:
    value = message.value()
    assert value is not None
    return datetime.fromisoformat(json.loads(value)["occurred_at"])


def test_produce_lives_in_the_present_by_default(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topics = _topics(topic_factory)
    args = ["produce", "--duration", "6", "--orders-per-hour", "10"]
    result = CliRunner().invoke(cli, args, env=_env(kafka_bootstrap, topics))
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    sent = int(result.output.split("sent ", 1)[1].split(",", 1)[0])
    received = [
        *_consume_all(kafka_bootstrap, topics.order_created, 0, until_idle_s=3),
        *_consume_all(kafka_bootstrap, topics.status_changed, 0, until_idle_s=3),
    ]
    assert len(received) == sent > 0
    times = [_occurred_at(m) for m in received]
    # a week of history up to now, and never an event from the future
    assert after - timedelta(days=7, minutes=5) <= min(times) <= after - timedelta(days=6)
    assert max(times) <= after
    assert max(times) >= after - timedelta(hours=12)


def test_produce_ahead_runs_event_times_past_the_clock(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topics = _topics(topic_factory)
    before = datetime.now(UTC)
    args = ["produce", "--orders", "20", "--orders-per-hour", "3600", "--start", "now", "--ahead"]
    result = CliRunner().invoke(cli, args, env=_env(kafka_bootstrap, topics))
    assert result.exit_code == 0, result.output
    created = _consume_all(kafka_bootstrap, topics.order_created, 20)
    first = min(_occurred_at(m) for m in created)
    assert before - timedelta(seconds=2) <= first <= datetime.now(UTC) + timedelta(minutes=10)
    updates = _consume_all(kafka_bootstrap, topics.status_changed, 1, until_idle_s=3)
    assert max(_occurred_at(m) for m in updates) > datetime.now(UTC)  # not waited for


def test_replayed_history_survives_a_short_retention(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    # events from 2025 into topics that keep messages for one minute after their timestamp
    short = {"retention.ms": "60000", "segment.ms": "1000"}
    topics = TopicNames(
        topic_factory("order-created", partitions=PARTITIONS, config=short),
        topic_factory("status-changed", partitions=PARTITIONS, config=short),
    )
    start = "2025-03-01T00:00:00+00:00"
    generate = ["generate", "--orders", "60", "--seed", "8", "--start", start]
    assert CliRunner().invoke(cli, [*generate, "--out", str(tmp_path)]).exit_code == 0
    files = [str(tmp_path / "orders_new.csv"), str(tmp_path / "logistics_updates.csv")]
    before = _now_ms()
    result = CliRunner().invoke(cli, ["replay", *files], env=_env(kafka_bootstrap, topics))
    published = (before, _now_ms())
    assert result.exit_code == 0, result.output
    rows = sum(len(Path(f).read_text(encoding="utf-8").splitlines()) - 1 for f in files)
    received = [
        *_consume_all(kafka_bootstrap, topics.order_created, 60),
        *_consume_all(kafka_bootstrap, topics.status_changed, rows - 60),
    ]
    assert len(received) == rows
    # the event time stays in the JSON; retention counts from the publish time
    assert all(_occurred_at(m).year == 2025 for m in received)
    first, last = published
    assert all(first - 1000 <= m.timestamp()[1] <= last + 1000 for m in received)

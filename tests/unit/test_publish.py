"""Publishing without a broker: failures are counted, bounded in time, and fail the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from domain.codec import encode_event
from infra import bootstrap
from infra.kafka.admin import EVENT_TOPIC_CONFIG, event_topic_config
from infra.kafka.producer import BrokerUnreachable, KafkaEventPublisher
from producer.faults import FaultConfig
from producer.messages import OutgoingMessage
from producer.publish import TopicNames, planned_messages, publish
from producer.simulation import SimulationConfig, simulate

#: Nothing listens on port 1 of the loopback interface: connections are refused at once.
NOWHERE = "127.0.0.1:1"


def _messages(orders: int) -> list[OutgoingMessage]:
    return list(planned_messages(SimulationConfig(orders=orders, seed=5), FaultConfig()))


def test_undelivered_messages_count_as_failed_after_the_flush_timeout() -> None:
    # librdkafka would retry for a minute; the flush gives up after half a second
    publisher = KafkaEventPublisher(
        {"bootstrap.servers": NOWHERE}, **{"message.timeout.ms": "60000"}
    )
    messages = _messages(5)
    started = time.monotonic()
    result = publish(messages, publisher, TopicNames(), flush_timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert not result.ok
    assert (result.attempted, result.delivered, result.failed) == (len(messages), 0, len(messages))
    assert "not confirmed within 0.5s" in result.failure()


def test_sending_stops_at_the_first_failed_delivery() -> None:
    publisher = KafkaEventPublisher({"bootstrap.servers": NOWHERE}, **{"message.timeout.ms": "300"})
    messages = _messages(2500)  # about 20 000 messages: 10 s at the rate below
    started = time.monotonic()
    result = publish(messages, publisher, TopicNames(), rate=2000, flush_timeout_s=5)
    assert time.monotonic() - started < 8
    assert 0 < result.attempted < len(messages) // 2
    assert result.delivered == 0 and result.failed == result.attempted
    assert "Message timed out" in result.failure()


def test_ensure_reachable_names_the_reason() -> None:
    publisher = KafkaEventPublisher({"bootstrap.servers": NOWHERE})
    with pytest.raises(BrokerUnreachable, match=r"no answer in 1s: .*refused"):
        publisher.ensure_reachable(1.0)


@pytest.mark.parametrize("args", [["produce", "--orders", "10"], ["produce", "--duration", "1"]])
def test_produce_to_an_unreachable_broker_fails_with_one_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "CONNECT_TIMEOUT_S", 1.0)
    result = CliRunner().invoke(cli, ["--bootstrap-servers", NOWHERE, *args])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach Kafka at {NOWHERE}: no answer in 1s:")
    assert result.stderr.count("\n") == 1 and "refused" in result.stderr


def test_replay_to_an_unreachable_broker_fails_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bootstrap, "CONNECT_TIMEOUT_S", 1.0)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(encode_event(e) + b"\n" for e in simulate(SimulationConfig(2))))
    result = CliRunner().invoke(cli, ["--bootstrap-servers", NOWHERE, "replay", str(events)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach Kafka") and result.stderr.count("\n") == 1


def test_failure_line_names_counts_and_reasons() -> None:
    publisher = KafkaEventPublisher({"bootstrap.servers": NOWHERE}, **{"message.timeout.ms": "200"})
    result = publish(_messages(1), publisher, TopicNames(), flush_timeout_s=5)
    line = result.failure("1/1 brokers are down")
    assert line.startswith(f"{result.failed} of {result.attempted} messages not delivered (")
    assert "Message timed out" in line and "last client error: 1/1 brokers are down" in line
    assert "\n" not in line


def test_lazy_messages_encode_the_same_bytes() -> None:
    config = SimulationConfig(orders=50, seed=8)
    faults = FaultConfig(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01)
    for rates in (FaultConfig(), faults):
        eager = list(planned_messages(config, rates))
        lazy = list(planned_messages(config, rates, encode=False))
        assert [m.value for m in lazy] == [m.value for m in eager]
        assert all(m.encoded is None for m in lazy if m.expected_reason is None)
        assert all(m.encoded is not None for m in lazy if m.expected_reason is not None)


def test_event_topic_retention() -> None:
    assert event_topic_config() == dict(EVENT_TOPIC_CONFIG)
    assert event_topic_config(-1)["retention.ms"] == "-1"
    assert event_topic_config(3_600_000)["retention.ms"] == "3600000"
    with pytest.raises(ValueError, match="retention"):
        event_topic_config(-2)


def test_topics_create_rejects_a_bad_retention() -> None:
    result = CliRunner().invoke(cli, ["topics", "create", "--retention-ms", "-2"])
    assert result.exit_code == 2 and "--retention-ms" in result.stderr

"""A tuned, idempotent confluent-kafka Producer, a delivery-report counter, and the
producer's ``EventPublisher`` port implemented on them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from infra.kafka.client_log import client_log, with_client_log

#: Throughput tuning: large batches, short linger, cheap compression, deep local queue.
#: Users may override any of these with -X / SLA_KAFKA_CONFIG.
PRODUCER_TUNING: Mapping[str, str] = {
    "linger.ms": "20",
    "batch.size": str(1024 * 1024),
    "batch.num.messages": "10000",
    "compression.type": "lz4",
    "queue.buffering.max.messages": "1000000",
    "queue.buffering.max.kbytes": str(1024 * 1024),
    "message.max.bytes": str(4 * 1024 * 1024),
}

#: Safety that is not negotiable: no duplicates from retries, every replica acknowledges.
PRODUCER_GUARANTEES: Mapping[str, str] = {"enable.idempotence": "true", "acks": "all"}


@dataclass(slots=True)
class DeliveryCounter:
    """Counts failed deliveries; keeps the first few error texts.

    Used as the producer's single ``on_delivery`` callback. Producers from
    :func:`build_producer` report failures only: a message is delivered once the
    producer no longer holds it (``len(producer)``, ``flush``) and no failure was counted.
    """

    failed: int = 0
    errors: list[str] = field(default_factory=list)
    max_errors: int = 10
    #: The latest client-level error (broker down, authentication...), if any.
    client_error: str | None = None

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        self.failed += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(f"{message.topic()}: {error.str()}")

    def on_client_error(self, error: KafkaError) -> None:
        """The producer's ``error_cb``: librdkafka retries these itself, so only note them."""
        self.client_error = error.str()
        client_log.debug("client error: %s", self.client_error)


def build_producer(
    client_config: Mapping[str, str], counter: DeliveryCounter, **overrides: str
) -> Producer:
    """A producer with :data:`PRODUCER_TUNING`, the client config and ``overrides`` on top.

    Idempotence and ``acks=all`` are always on. Raises ``KafkaException`` for an
    invalid configuration (the broker is not contacted here).
    """
    config: dict[str, Any] = {**PRODUCER_TUNING, **client_config, **overrides}
    config.update(PRODUCER_GUARANTEES)
    # a Python callback for every delivered message would cost a tenth of publishing
    config["delivery.report.only.error"] = True
    config["on_delivery"] = counter
    config["error_cb"] = counter.on_client_error
    return Producer(with_client_log(config))


class BrokerUnreachable(Exception):
    """No broker answered a metadata request in time; the text says why."""


def ensure_reachable(producer: Producer, counter: DeliveryCounter, timeout_s: float) -> None:
    """Ask the cluster for metadata; raises :class:`BrokerUnreachable` after ``timeout_s``.

    Done before publishing so that a wrong address or a broker that is down fails in
    seconds with a reason, rather than after every message has timed out.
    """
    try:
        producer.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        producer.poll(0)  # serve error_cb: it holds the reason (refused, DNS, TLS, auth...)
        error = exc.args[0]
        reason = counter.client_error or (
            error.str() if isinstance(error, KafkaError) else str(error)
        )
        raise BrokerUnreachable(f"no answer in {timeout_s:g}s: {reason}") from None


def send(producer: Producer, topic: str, key: bytes, value: bytes, timestamp_ms: int) -> None:
    """Queue one message, waiting (serving callbacks) while the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, timestamp=timestamp_ms)
            return
        except BufferError:
            producer.poll(0.05)


def drain(producer: Producer, timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for outstanding deliveries; returns how many remain."""
    deadline = time.monotonic() + timeout_s
    remaining = len(producer)
    while remaining and time.monotonic() < deadline:
        remaining = producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
    return int(remaining)


class KafkaEventPublisher:
    """``producer.ports.EventPublisher`` on a producer from :func:`build_producer`.

    Raises ``KafkaException`` for an invalid configuration (no broker is contacted
    until :meth:`ensure_reachable` or the first message).
    """

    def __init__(self, client_config: Mapping[str, str], **overrides: str) -> None:
        self.counter = DeliveryCounter()
        self.producer = build_producer(client_config, self.counter, **overrides)
        # the client's own methods rather than wrappers: they run once per message, and
        # the client stamps a message without a timestamp with the publish time
        self.queue: Callable[[str, bytes, bytes], None] = self.producer.produce
        self.serve: Callable[[float], object] = self.producer.poll

    def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for outstanding deliveries; returns how many remain."""
        return drain(self.producer, timeout_s)

    @property
    def failed(self) -> int:
        return self.counter.failed

    @property
    def errors(self) -> list[str]:
        return self.counter.errors

    @property
    def client_error(self) -> str | None:
        return self.counter.client_error

    def ensure_reachable(self, timeout_s: float) -> None:
        """Raises :class:`BrokerUnreachable` when no broker answers within ``timeout_s``."""
        ensure_reachable(self.producer, self.counter, timeout_s)

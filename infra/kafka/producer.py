"""A tuned, idempotent confluent-kafka Producer and a delivery-report counter."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

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
    """Counts delivery reports; keeps the first few error texts.

    Used as the producer's single ``on_delivery`` callback.
    """

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    max_errors: int = 10

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(f"{message.topic()}: {error.str()}")


def build_producer(
    client_config: Mapping[str, str], counter: DeliveryCounter, **overrides: str
) -> Producer:
    """A producer with :data:`PRODUCER_TUNING`, the client config and ``overrides`` on top.

    Idempotence and ``acks=all`` are always on. Raises ``KafkaException`` for an
    invalid configuration (the broker is not contacted here).
    """
    config: dict[str, Any] = {**PRODUCER_TUNING, **client_config, **overrides}
    config.update(PRODUCER_GUARANTEES)
    config["on_delivery"] = counter
    return Producer(config)


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

"""The dead-letter topic on Kafka: publish rejects, read letters back, redrive them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from consumer.batch import Rejected
from consumer.dlq import DeadLetter, dead_letter_headers
from consumer.errors import InfrastructureError
from infra.kafka.consumer import broker_error, headers_of, position_of

log = logging.getLogger(__name__)


class KafkaDeadLetterSink:
    """Publishes rejects to the dead-letter topic and waits for every acknowledgement."""

    def __init__(
        self, client_config: Mapping[str, str], topic: str, *, flush_timeout_s: float = 30.0
    ) -> None:
        self._topic = topic
        self._flush_timeout_s = flush_timeout_s
        self._producer = Producer(
            {**client_config, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
        )

    def publish(self, rejected: Sequence[Rejected]) -> None:
        """Raises ``InfrastructureError`` unless the broker confirmed every letter."""
        failures: list[str] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        try:
            for reject in rejected:
                self._produce(reject, on_delivery)
            left = self._producer.flush(self._flush_timeout_s)
        except KafkaException as error:
            raise broker_error(error, "dead-letter produce") from error
        if left or failures:
            detail = failures[0] if failures else f"{left} unconfirmed after flush"
            raise InfrastructureError("broker", f"dead-letter produce: {detail}")

    def _produce(
        self, reject: Rejected, on_delivery: Callable[[KafkaError | None, Message], None]
    ) -> None:
        kwargs: dict[str, Any] = {
            "key": reject.message.key,
            "value": reject.message.value,
            "headers": dead_letter_headers(reject),
            "on_delivery": on_delivery,
        }
        try:
            self._producer.produce(self._topic, **kwargs)
        except BufferError:
            self._producer.poll(1.0)  # local queue full: let deliveries drain, then retry once
            self._producer.produce(self._topic, **kwargs)


def read_dead_letters(
    client_config: Mapping[str, str], topic: str, *, timeout_s: float = 30.0
) -> Iterator[DeadLetter]:
    """Every letter on ``topic`` from the beginning up to its current end.

    Uses a throwaway group and never commits. Raises ``InfrastructureError``
    when the topic cannot be listed or read within ``timeout_s``.
    """
    consumer = Consumer(
        {
            **client_config,
            "group.id": f"sla-pipeline-dlq-reader-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise InfrastructureError("broker", f"topic {topic!r} not found")
            ends: dict[int, int] = {}
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s
                )
                if high > low:
                    ends[partition] = high
        except KafkaException as error:
            raise broker_error(error, "list dead letters") from error
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(ends)])
        yield from _read_until(consumer, ends, timeout_s)
    finally:
        consumer.close()


def _read_until(consumer: Consumer, ends: dict[int, int], timeout_s: float) -> Iterator[DeadLetter]:
    idle = 0.0
    while ends:
        messages = consumer.consume(num_messages=500, timeout=1.0)
        if not messages:
            idle += 1.0
            if idle >= timeout_s:
                raise InfrastructureError("broker", "dead-letter topic stopped answering")
            continue
        idle = 0.0
        for message in messages:
            if message.error() is not None:
                continue
            position = position_of(message)
            partition = position.partition
            if partition not in ends or position.offset >= ends[partition]:
                continue
            yield DeadLetter.parse(position, message.key(), message.value(), headers_of(message))
            if position.offset + 1 >= ends[partition]:
                del ends[partition]


def redrive(
    client_config: Mapping[str, str], letters: Sequence[DeadLetter], *, timeout_s: float = 30.0
) -> int:
    """Publish ``letters`` back to their source topics (original key, value, headers).

    Returns how many were confirmed; raises ``InfrastructureError`` if any was not.
    """
    producer = Producer({**client_config, "enable.idempotence": True, "acks": "all"})
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    try:
        for letter in letters:
            if letter.source is None:
                raise InfrastructureError("broker", f"{letter.position}: no source topic header")
            producer.produce(
                letter.source.topic,
                key=letter.key,
                value=letter.value,
                headers=list(letter.original_headers),
                on_delivery=on_delivery,
            )
        left = producer.flush(timeout_s)
    except KafkaException as error:
        raise broker_error(error, "redrive") from error
    if left or failures:
        raise InfrastructureError("broker", f"redrive: {failures[:1] or [f'{left} unconfirmed']}")
    return len(letters)

"""The dead-letter topic on Kafka: read letters back, redrive them (publishing is
``infra.kafka.dead_letter_sink``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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

from consumer.dlq import DeadLetter
from consumer.errors import InfrastructureError
from infra.kafka.admin import check_cluster
from infra.kafka.client_log import with_client_log
from infra.kafka.consumer import broker_error, headers_of, position_of

log = logging.getLogger(__name__)


def read_dead_letters(
    client_config: Mapping[str, str], topic: str, *, timeout_s: float = 30.0
) -> Iterator[DeadLetter]:
    """Every letter on ``topic`` from the beginning up to its current end, in
    (partition, offset) order so listings and ``--limit`` are repeatable.

    Uses a throwaway group and never commits. Raises ``InfrastructureError``
    when the topic cannot be listed or read within ``timeout_s``.
    """
    consumer = Consumer(
        with_client_log(
            {
                **client_config,
                "group.id": f"sla-pipeline-dlq-reader-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
            }
        )
    )
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise InfrastructureError("broker", f"topic {topic!r} not found")
            spans: dict[int, tuple[int, int]] = {}
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s
                )
                if high > low:
                    spans[partition] = (low, high)
        except KafkaException as error:
            raise broker_error(error, "list dead letters") from error
        for partition, (low, high) in sorted(spans.items()):
            consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            yield from _read_partition(consumer, partition, low, high, timeout_s)
    finally:
        consumer.close()


def _read_partition(
    consumer: Consumer, partition: int, low: int, end: int, timeout_s: float
) -> Iterator[DeadLetter]:
    """The letters of the assigned ``partition`` in ``[low, end)``."""
    following = low
    idle = 0.0
    while following < end:
        # Ask for no more than are left: consume() waits its whole timeout for a full batch.
        wanted = min(500, end - following)
        messages = consumer.consume(num_messages=wanted, timeout=1.0)
        if not messages:
            idle += 1.0
            if idle >= timeout_s:
                raise InfrastructureError("broker", "dead-letter topic stopped answering")
            continue
        idle = 0.0
        for message in messages:
            if message.error() is not None or message.partition() != partition:
                continue
            position = position_of(message)
            if position.offset >= end:
                following = end
                break
            following = position.offset + 1
            yield DeadLetter.parse(position, message.key(), message.value(), headers_of(message))


def redrive(
    client_config: Mapping[str, str], letters: Sequence[DeadLetter], *, timeout_s: float = 30.0
) -> int:
    """Publish ``letters`` back to their source topics (original key, value, headers).

    Returns how many were confirmed. Raises ``ValueError`` before publishing anything
    when a letter is truncated (its value is incomplete), has no source headers or
    its source topic does not exist, and ``InfrastructureError`` (saying how many
    were confirmed) if any was not confirmed.
    """
    sources = [letter.source for letter in letters]
    truncated = [str(letter.position) for letter in letters if letter.truncated]
    if truncated:
        raise ValueError(f"{', '.join(truncated)} truncated: the original value is incomplete")
    sourceless = [str(letter.position) for letter in letters if letter.source is None]
    if sourceless:
        raise ValueError(f"no dlq.source.* headers on {', '.join(sourceless)}")
    producer = Producer(
        with_client_log({**client_config, "enable.idempotence": True, "acks": "all"})
    )
    confirmed = 0
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        nonlocal confirmed
        if error is None:
            confirmed += 1
        else:
            failures.append(str(error))

    try:
        # checked up front: a missing topic would only fail each letter after a long
        # delivery timeout, with the letters before it already republished
        known = producer.list_topics(timeout=timeout_s).topics if letters else {}
        absent = sorted({s.topic for s in sources if s is not None and s.topic not in known})
        if absent:
            raise ValueError(f"source topic {', '.join(map(repr, absent))} does not exist")
        for letter, source in zip(letters, sources, strict=True):
            assert source is not None  # checked above
            kwargs: dict[str, Any] = {
                "key": letter.key,
                "value": letter.value,
                "headers": list(letter.original_headers),
                "on_delivery": on_delivery,
            }
            try:
                producer.produce(source.topic, **kwargs)
            except BufferError:
                producer.poll(1.0)  # local queue full (a large --all): drain, then retry once
                producer.produce(source.topic, **kwargs)
        left = producer.flush(timeout_s)
    except KafkaException as error:
        raise broker_error(error, "redrive") from error
    if left or failures:
        detail = failures[0] if failures else f"{left} unconfirmed after {timeout_s:g}s"
        raise InfrastructureError(
            "broker", f"redrive: {confirmed} of {len(letters)} confirmed: {detail}"
        )
    return confirmed


@dataclass(frozen=True)
class DeadLetterTopic:
    """The dead-letter topic of one pipeline: check the cluster, read letters, redrive."""

    client_config: Mapping[str, str]
    topic: str

    def check_cluster(self) -> None:
        """Fail in seconds when no broker answers (reads would wait their whole timeout).

        Raises ``ClusterUnreachable`` (naming the address), or ``KafkaException`` for an
        invalid client configuration.
        """
        check_cluster(self.client_config)

    def letters(self) -> Iterator[DeadLetter]:
        """Every letter from the beginning (see :func:`read_dead_letters`)."""
        return read_dead_letters(self.client_config, self.topic)

    def redrive(self, letters: Sequence[DeadLetter]) -> int:
        """Publish ``letters`` back to their source topics (see :func:`redrive`)."""
        return redrive(self.client_config, letters)

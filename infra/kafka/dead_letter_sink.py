"""Publishing rejects to the dead-letter topic, whatever their size."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumer.batch import Rejected, SourcePosition
from consumer.dlq import Letter, dead_letter, truncated_dead_letter
from consumer.errors import InfrastructureError
from infra.kafka.admin import topic_max_message_bytes
from infra.kafka.client_log import with_client_log
from infra.kafka.consumer import broker_error
from infra.kafka.delivery import message_timeout_ms

log = logging.getLogger(__name__)

#: librdkafka's own ``message.max.bytes``: the limit assumed when the topic's cannot be read.
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
_LIBRDKAFKA_MAX_MESSAGE_BYTES = (1000, 1_000_000_000)  # the range librdkafka accepts
#: Errors that say "this letter is too large", from produce() or a delivery report:
#: retrying them can never succeed, so they are answered by truncating, never as an outage.
SIZE_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})
_Delivered = Callable[[KafkaError | None, Message], None]


class KafkaDeadLetterSink:
    """Publishes rejects to the dead-letter topic and waits for every acknowledgement.

    The producer's size limit follows the topic's ``max.message.bytes`` (read once,
    on the first publish; ``DEFAULT_MAX_MESSAGE_BYTES`` when it cannot be read), or
    ``max_message_bytes`` when given. A letter the topic refuses as too large is
    published again truncated (``consumer.dlq.truncated_dead_letter``). Letters the
    broker confirmed are not published again when the same rejects are retried.
    """

    def __init__(
        self,
        client_config: Mapping[str, str],
        topic: str,
        *,
        flush_timeout_s: float = 30.0,
        max_message_bytes: int | None = None,
    ) -> None:
        self._client_config = dict(client_config)
        self._topic = topic
        self._flush_timeout_s = flush_timeout_s
        self._max_message_bytes = max_message_bytes
        self._producer: Producer | None = None
        # source positions of letters confirmed by the broker, kept while the same
        # rejects are published again (the worker retries a failed publish whole)
        self._confirmed: set[SourcePosition] = set()

    @property
    def max_message_bytes(self) -> int:
        """The producer's size limit (reads the topic's on first use)."""
        self._ready()
        assert self._max_message_bytes is not None
        return self._max_message_bytes

    def _ready(self) -> Producer:
        if self._producer is None:
            limit = self._max_message_bytes or topic_max_message_bytes(
                self._client_config, self._topic
            )
            if limit is None:
                limit = DEFAULT_MAX_MESSAGE_BYTES
                log.warning(
                    "cannot read max.message.bytes of %s; dead letters above %d bytes "
                    "will be truncated",
                    self._topic,
                    limit,
                )
            low, high = _LIBRDKAFKA_MAX_MESSAGE_BYTES
            self._max_message_bytes = min(max(limit, low), high)
            self._producer = Producer(
                with_client_log(
                    {
                        **self._client_config,
                        "enable.idempotence": True,
                        "acks": "all",
                        "linger.ms": 5,
                        "message.timeout.ms": message_timeout_ms(self._flush_timeout_s),
                        "message.max.bytes": self._max_message_bytes,
                        # a batch of small letters must fit the topic's limit as well
                        "batch.size": min(self._max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES),
                    }
                )
            )
        return self._producer

    def publish(self, rejected: Sequence[Rejected]) -> None:
        """Raises ``InfrastructureError`` unless the broker confirmed every letter."""
        producer = self._ready()
        self._confirmed &= {reject.message.position for reject in rejected}
        pending = [r for r in rejected if r.message.position not in self._confirmed]
        too_large = self._send(producer, [(r, dead_letter(r)) for r in pending])
        if len(too_large) > 1:
            # the broker refuses a whole produce batch when it is over the limit, small
            # letters with it: try each alone before cutting it
            too_large = [
                late for r in too_large for late in self._send(producer, [(r, dead_letter(r))])
            ]
        if not too_large:
            return
        limit = self.max_message_bytes
        for reject in too_large:
            log.warning(
                "%s: dead letter of %d bytes is too large for %s (limit %d); publishing it "
                "truncated",
                reject.message.position,
                dead_letter(reject).size,
                self._topic,
                limit,
            )
        truncated = [(r, truncated_dead_letter(r, limit)) for r in too_large]
        if refused := self._send(producer, truncated):
            # only a topic limit of a few KiB refuses a truncated letter: a configuration error
            raise InfrastructureError(
                "broker",
                f"dead-letter produce: {self._topic} refuses even the truncated letter of "
                f"{refused[0].message.position}",
            )

    def _send(
        self, producer: Producer, letters: Sequence[tuple[Rejected, Letter]]
    ) -> list[Rejected]:
        """Publish and flush ``letters``; return the rejects whose letter was too large.

        Raises ``InfrastructureError`` when any other letter was not confirmed.
        """
        too_large: list[Rejected] = []
        failures: list[str] = []

        def on_delivery(reject: Rejected, error: KafkaError | None, _message: Message) -> None:
            if error is None:
                self._confirmed.add(reject.message.position)
            elif error.code() in SIZE_ERRORS:
                too_large.append(reject)
            else:
                failures.append(str(error))

        try:
            for reject, letter in letters:
                try:
                    self._produce(producer, letter, functools.partial(on_delivery, reject))
                except KafkaException as error:
                    if _code(error) not in SIZE_ERRORS:
                        raise
                    too_large.append(reject)  # refused locally, before any broker saw it
            left = producer.flush(self._flush_timeout_s)
        except KafkaException as error:
            raise broker_error(error, "dead-letter produce") from error
        if left or failures:
            detail = failures[0] if failures else f"{left} unconfirmed after flush"
            raise InfrastructureError("broker", f"dead-letter produce: {detail}")
        return too_large

    def _produce(self, producer: Producer, letter: Letter, on_delivery: _Delivered) -> None:
        kwargs: dict[str, Any] = {
            "key": letter.key,
            "value": letter.value,
            "headers": letter.headers,
            "on_delivery": on_delivery,
        }
        try:
            producer.produce(self._topic, **kwargs)
        except BufferError:
            producer.poll(1.0)  # local queue full: let deliveries drain, then retry once
            producer.produce(self._topic, **kwargs)


def _code(error: KafkaException) -> int | None:
    inner = error.args[0] if error.args else None
    return inner.code() if isinstance(inner, KafkaError) else None

"""Publishing SLA alerts to the alert topic (``consumer.ports.AlertSink``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumer.errors import InfrastructureError
from domain.alerts import SlaAlert, encode_alert
from infra.kafka.admin import topic_exists
from infra.kafka.client_log import with_client_log
from infra.kafka.consumer import broker_error
from infra.kafka.delivery import message_timeout_ms


class KafkaAlertSink:
    """Publishes alerts keyed by ``order_id`` (so a compacted topic keeps each order's
    latest) with an idempotent producer, and waits for every acknowledgement."""

    def __init__(
        self, client_config: Mapping[str, str], topic: str, *, flush_timeout_s: float = 30.0
    ) -> None:
        self._client_config = dict(client_config)
        self._topic = topic
        self._flush_timeout_s = flush_timeout_s
        self._producer: Producer | None = None

    def _ready(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                with_client_log(
                    {
                        **self._client_config,
                        "enable.idempotence": True,
                        "acks": "all",
                        "linger.ms": 5,
                        "message.timeout.ms": message_timeout_ms(self._flush_timeout_s),
                    }
                )
            )
        return self._producer

    def topic_exists(self) -> bool | None:
        return topic_exists(self._client_config, self._topic)

    def publish(self, alerts: Sequence[SlaAlert]) -> None:
        """Raises ``InfrastructureError`` unless the broker confirmed every alert (the
        caller publishes them all again: the alert ids make the copies the same)."""
        producer = self._ready()
        failures: list[str] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        try:
            for alert in alerts:
                key, value = alert.order_id.encode("utf-8"), encode_alert(alert)
                headers: list[tuple[str, str | bytes | None]] = [
                    ("alert_id", str(alert.alert_id).encode("ascii"))
                ]
                for attempt in (1, 2):
                    try:
                        producer.produce(
                            self._topic, value, key, headers=headers, on_delivery=on_delivery
                        )
                        break
                    except BufferError:
                        if attempt == 2:
                            raise
                        producer.poll(1.0)  # local queue full: let deliveries drain
            left = producer.flush(self._flush_timeout_s)
        except KafkaException as error:
            raise broker_error(error, "alert produce") from error
        if left or failures:
            detail = failures[0] if failures else f"{left} unconfirmed after flush"
            raise InfrastructureError("broker", f"alert produce to {self._topic}: {detail}")

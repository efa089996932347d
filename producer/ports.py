"""What the producer needs from the outside world: somewhere to publish messages.

``producer.publish`` and ``producer.replay`` talk to this protocol only; the
Kafka adapter (``infra.kafka.producer.KafkaEventPublisher``) implements it, and
tests may pass any object of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class EventPublisher(Protocol):
    """Sends keyed messages to topics, asynchronously, and counts the failures.

    A message is queued by :meth:`queue` and confirmed later; only failures are
    reported, so a message the publisher no longer holds with no failure counted
    was delivered. Broker errors are counted here, never raised.
    """

    def queue(self, topic: str, value: bytes, key: bytes) -> None:
        """Queue one message, stamped with the publish time.

        Raises ``BufferError`` when the local queue is full: :meth:`serve`, then retry.
        """
        ...

    def serve(self, timeout_s: float) -> object:
        """Handle delivery reports for up to ``timeout_s`` (0: only those waiting)."""
        ...

    def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for outstanding deliveries; returns how many remain."""
        ...

    @property
    def failed(self) -> int:
        """Deliveries that failed so far."""
        ...

    @property
    def errors(self) -> Sequence[str]:
        """The first few delivery error texts, ``topic: reason``."""
        ...

    @property
    def client_error(self) -> str | None:
        """The latest client-level error (broker down, authentication...), if any."""
        ...

"""Whether any broker answers: librdkafka retries quietly, so the worker says so.

The client's error callback reports "all brokers down", transport and
authentication errors; the first poll after one logs ``cannot reach Kafka at ...``
(naming the bootstrap servers), and again every ``REPEAT_S`` while it lasts. Other
client errors are logged at most once per ``REPEAT_S`` each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError

log = logging.getLogger("infra.kafka.consumer")

#: Client errors that mean no broker can be used (librdkafka keeps retrying by itself).
_NO_CONTACT = frozenset(
    {
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TRANSPORT,
        KafkaError._RESOLVE,
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
    }
)
#: How often the same warning is repeated while its cause lasts.
REPEAT_S = 30.0


class BrokerContactWatch:
    """Collects the client's errors and turns them into warnings at poll time."""

    def __init__(self, bootstrap: str, probe: Callable[[], bool]) -> None:
        self._bootstrap = bootstrap
        self._probe = probe  # does a broker answer now? (a short metadata request)
        self._problem: str | None = None
        self._warned_at: float | None = None
        self._other_warned: dict[int, float] = {}

    def on_error(self, error: KafkaError) -> None:
        """The client's ``error_cb`` (called from inside poll)."""
        if error.code() in _NO_CONTACT:
            self._problem = error.str()
            return
        now = time.monotonic()
        if now - self._other_warned.get(error.code(), -REPEAT_S) >= REPEAT_S:
            self._other_warned[error.code()] = now
            log.warning("kafka client: %s", error.str())

    def after_poll(self, contact: bool) -> None:
        """Say (at once, then every ``REPEAT_S``) that no broker answers, and say so
        too when one answers again."""
        if contact or self._problem is None:
            if contact and self._warned_at is not None:
                log.warning("reached Kafka at %s again", self._bootstrap)
            if contact:
                self._problem = self._warned_at = None
            return
        now = time.monotonic()
        if self._warned_at is not None and now - self._warned_at < REPEAT_S:
            return
        if self._probe():  # an error callback never says "back": ask a broker
            self.after_poll(True)
            return
        log.warning("cannot reach Kafka at %s (%s); still trying", self._bootstrap, self._problem)
        self._warned_at = now

    def unreachable(self) -> str | None:
        """Where no broker answers and why (``None``: contact, or no sign of trouble)."""
        return None if self._problem is None else f"{self._bootstrap} ({self._problem})"

"""A dead letter or an alert the broker never takes: each publish ends within its
flush timeout, failed by the message's own delivery timeout."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from consumer.batch import RawMessage, Rejected, SourcePosition
from consumer.errors import InfrastructureError
from domain.alerts import AlertReason, SlaAlert, alert_id
from domain.codec import RejectReason
from domain.sla import SlaState
from infra.kafka.alerts import KafkaAlertSink
from infra.kafka.dead_letter_sink import KafkaDeadLetterSink
from infra.kafka.delivery import message_timeout_ms

FLUSH_TIMEOUT_S = 8.0


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def reject(offset: int) -> Rejected:
    raw = RawMessage(SourcePosition("orders", 0, offset), b"ORD-1", b"{", [])
    return Rejected(raw, RejectReason.INVALID_JSON, "bad json")


@pytest.mark.parametrize("flush_timeout_s", [1.0, 6.0, 30.0, 120.0])
def test_a_letter_times_out_before_the_flush_that_waits_for_it(flush_timeout_s: float) -> None:
    assert 0 < message_timeout_ms(flush_timeout_s) < flush_timeout_s * 1000


def alert(order_id: str) -> SlaAlert:
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    return SlaAlert(
        alert_id=alert_id(order_id, SlaState.BREACHED, at),
        order_id=order_id,
        state=SlaState.BREACHED,
        previous_state=None,
        reason=AlertReason.DEADLINE_PASSED,
        deadline_at=at,
        episode_start=at,
        caused_by_event_at=None,
        as_of=at,
    )


def publish_letters(bootstrap: str) -> None:
    sink = KafkaDeadLetterSink(
        {"bootstrap.servers": bootstrap},
        "pipeline-dlq",
        flush_timeout_s=FLUSH_TIMEOUT_S,
        max_message_bytes=1_000_000,
    )
    letters = [reject(7), reject(8)]
    for _ in range(2):  # a retry is not held up by the letters of the attempt before
        failed_within_the_flush(lambda: sink.publish(letters))


def publish_alerts(bootstrap: str) -> None:
    sink = KafkaAlertSink(
        {"bootstrap.servers": bootstrap}, "sla-alerts", flush_timeout_s=FLUSH_TIMEOUT_S
    )
    alerts = [alert("ORD-1"), alert("ORD-2")]
    for _ in range(2):
        failed_within_the_flush(lambda: sink.publish(alerts))


def failed_within_the_flush(publish: Callable[[], None]) -> None:
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as caught:
        publish()
    elapsed = time.monotonic() - started
    # failed by its own delivery timeout, not left queued when the flush gave up
    assert "_MSG_TIMED_OUT" in str(caught.value)
    assert elapsed < FLUSH_TIMEOUT_S


@pytest.mark.parametrize("publish", [publish_letters, publish_alerts])
def test_an_unreachable_broker_fails_each_publish_within_the_flush_timeout(
    publish: Callable[[str], None],
) -> None:
    publish(f"127.0.0.1:{closed_port()}")

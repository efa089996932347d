"""SLA alerts end to end on real Kafka and PostgreSQL: a live stream with known
deadlines yields exactly the expected alerts, across SIGKILLed workers.

The stream (event times around the wall clock at the start, explicit promises):

* ``late``: created, never shipped, promised in 40 s. Only the passage of time moves
  it: the sweep announces it at risk (deadline near: under 25 % of the window left,
  from 30 s) and then breached (from 40 s).
* ``failed``: a delivery failure puts it at risk (an event does); its delivery,
  published later, ends that episode (met).
* ``overdue``: created an hour ago, promised 30 minutes ago: breached as soon as it is
  seen; its late delivery, published later, ends that episode (missed).
* ``on_time`` and ``relaxed``: delivered in time, or with a far deadline: no alert.

The expected alerts are written here from docs/sla.md (ids by the documented uuid5
recipe). The first worker is SIGKILLed between its database commit and its offset
commit -- its alerts are queued but unpublished -- and the second mid-stream; the
alert topic is read whole and collapsed by (key, alert id) as compaction would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from confluent_kafka import Consumer

from consumer.fault_hook import PAUSE_BEFORE_OFFSET_COMMIT_ENV
from domain.events import Event, OrderCreated, ShippingTier, StatusChanged
from domain.lifecycle import OrderStatus as S
from infra.bootstrap import migrated_engine
from infra.db.alerts import SqlAlertRepository
from infra.settings import Settings
from producer.messages import message_for
from tests.faults.helpers import publish, report_figures, wait_until, worker_env
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]
NAMESPACE = uuid.UUID("6f0d2a3e-5c1b-5e7a-9a43-2f51c0b7e8d4")  # docs/sla.md
SEC = timedelta(seconds=1)
#: (order, state, previous state, reason, episode start): one per expected alert
Expected = tuple[str, str, str | None, str, datetime]


def doc_id(order_id: str, state: str, start: datetime) -> str:
    return str(
        uuid.uuid5(NAMESPACE, f"{order_id}|{state}|{start.isoformat(timespec='microseconds')}")
    )


def creation(order_id: str, at: datetime, promised: datetime) -> OrderCreated:
    return OrderCreated(
        event_id=uuid.uuid4(),
        order_id=order_id,
        occurred_at=at,
        customer_id="C-1",
        customer_name="Ada Lovelace",
        product_sku="SKU-1",
        product_name="Widget",
        quantity=1,
        unit_price=Decimal("9.99"),
        currency="EUR",
        shipping_tier=ShippingTier.STANDARD,
        carrier="dhl",
        destination_region="EU-West",
        promised_delivery_at=promised,
    )


def move(order_id: str, status: S, at: datetime) -> StatusChanged:
    return StatusChanged(event_id=uuid.uuid4(), order_id=order_id, occurred_at=at, status=status)


def journey(order_id: str, start: datetime, *steps: tuple[S, float]) -> list[Event]:
    return [move(order_id, status, start + seconds * SEC) for status, seconds in steps]


def read_alerts(settings: Settings, timeout_s: float = 5.0) -> list[tuple[str, str, bytes]]:
    """Every message of the alert topic: (key, alert_id header, value)."""
    consumer = Consumer(
        {
            **settings.kafka_client_config(),
            "group.id": f"alerts-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([settings.topic_alerts])
    got: list[tuple[str, str, bytes]] = []
    quiet_until = time.monotonic() + timeout_s
    try:
        while time.monotonic() < quiet_until:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            headers = dict(message.headers() or [])
            key, value = message.key(), message.value()
            assert key is not None and value is not None
            got.append((key.decode(), (headers["alert_id"] or b"").decode(), value))
            quiet_until = time.monotonic() + 1.5  # until the topic stays quiet a moment
    finally:
        consumer.close()
    return got


def gauge(worker: WorkerProcess) -> dict[str, float]:
    """``sla_pipeline_orders_alerting`` by state, scraped from the worker's /metrics."""
    found = re.search(r"serving Prometheus metrics on (http://\S+/metrics)", worker.output())
    if found is None:
        return {}
    with urllib.request.urlopen(found.group(1), timeout=5) as response:
        text = response.read().decode()
    pattern = r'^sla_pipeline_orders_alerting\{state="(\w+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}


def collapse(messages: list[tuple[str, str, bytes]]) -> dict[tuple[str, str], bytes]:
    """As a compacted topic keyed by order: copies must be byte-identical to collapse."""
    kept: dict[tuple[str, str], bytes] = {}
    for key, alert_id, value in messages:
        assert kept.setdefault((key, alert_id), value) == value, f"{key} {alert_id} differs"
    return kept


def test_live_stream_yields_exactly_the_expected_alerts_across_sigkill(
    settings_for: Callable[[str], Settings],
    pg_database_url: str,
    topic_factory: Callable[..., str],
) -> None:
    started = time.monotonic()
    alerts_topic = topic_factory("alerts", partitions=1, config={"cleanup.policy": "compact"})
    settings = settings_for(pg_database_url).model_copy(update={"topic_alerts": alerts_topic})
    engine = migrated_engine(settings)
    base = datetime.now(UTC).replace(microsecond=0)
    ids = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in
           ("late", "failed", "overdue", "on_time", "relaxed")}  # fmt: skip
    hour_ago = base - 3600 * SEC
    first: list[Event] = [
        creation(ids["late"], base, base + 40 * SEC),
        creation(ids["on_time"], base, base + 40 * SEC),
        *journey(
            ids["on_time"],
            base,
            (S.APPROVED, 0.5),
            (S.PACKED, 0.6),
            (S.SHIPPED, 1),
            (S.OUT_FOR_DELIVERY, 2),
            (S.DELIVERED, 3),
        ),
        creation(ids["relaxed"], base, base + 3600 * SEC),
        *journey(ids["relaxed"], base, (S.APPROVED, 0.5), (S.PACKED, 0.6), (S.SHIPPED, 1)),
        creation(ids["failed"], base, base + 600 * SEC),
        *journey(
            ids["failed"],
            base,
            (S.APPROVED, 0.5),
            (S.PACKED, 0.6),
            (S.SHIPPED, 1),
            (S.OUT_FOR_DELIVERY, 1.5),
            (S.DELIVERY_FAILED, 2),
        ),
        creation(ids["overdue"], hour_ago, base - 1800 * SEC),
        *journey(ids["overdue"], hour_ago, (S.APPROVED, 60), (S.PACKED, 120), (S.SHIPPED, 600)),
    ]
    later: list[Event] = [
        *journey(ids["failed"], base, (S.OUT_FOR_DELIVERY, 4), (S.DELIVERED, 5)),
        *journey(ids["overdue"], base, (S.OUT_FOR_DELIVERY, 4), (S.DELIVERED, 5)),
    ]
    expected: list[Expected] = [
        (ids["late"], "at_risk", None, "deadline_near", base + 30 * SEC),
        (ids["late"], "breached", "at_risk", "deadline_passed", base + 40 * SEC),
        (ids["failed"], "at_risk", None, "delivery_failed", base + 2 * SEC),
        (ids["failed"], "met", "at_risk", "delivered", base + 2 * SEC),
        (ids["overdue"], "breached", None, "deadline_passed", base - 1800 * SEC),
        (ids["overdue"], "missed", "breached", "delivered", base - 1800 * SEC),
    ]
    sweep = {"SLA_TOPIC_ALERTS": alerts_topic, "SLA_ALERT_SWEEP_S": "0.5"}

    publish(settings, [message_for(event) for event in first])
    paused = WorkerProcess(worker_env(settings, **sweep, **{PAUSE_BEFORE_OFFSET_COMMIT_ENV: "2"}))
    assert wait_until(lambda: paused.count("fault hook: database committed") >= 1, 30, 0.05)
    paused.kill()  # its batch's alerts are queued in the database, not yet published
    with engine.connect() as conn:
        assert SqlAlertRepository(conn).pending(10), "the killed batch queued no alert"
    assert read_alerts(settings, 1.0) == [], "published before the kill"

    second = WorkerProcess(worker_env(settings, **sweep))
    event_driven = {ids["failed"], ids["overdue"]}
    assert wait_until(lambda: {k for k, _, _ in read_alerts(settings, 1)} >= event_driven, 30)
    publish(settings, [message_for(event) for event in later])
    time.sleep(max(0.0, (base + 33 * SEC - datetime.now(UTC)).total_seconds()))
    second.kill()  # mid-stream, after the late order's at-risk sweep

    third = WorkerProcess(worker_env(settings, **sweep), "--metrics-port", "0")
    done = len(expected)
    assert wait_until(lambda: len(collapse(read_alerts(settings, 1))) >= done, 45, 1.0)
    # the gauge: the late order is the one left breached (the others were delivered)
    assert wait_until(lambda: gauge(third) == {"at_risk": 0.0, "breached": 1.0}, 10), gauge(third)
    os.kill(third.pid, signal.SIGTERM)
    assert third.wait(30) == 0, third.output()[-3000:]

    messages = read_alerts(settings)
    kept = collapse(messages)
    got = sorted(
        (
            key,
            alert["state"],
            alert["previous_state"],
            alert["reason"],
            datetime.fromisoformat(alert["episode_start"]),
        )
        for (key, alert_id), value in kept.items()
        if (alert := json.loads(value))["alert_id"] == alert_id
    )
    assert got == sorted(expected, key=lambda e: (e[0], e[1], e[2] or "", e[3], e[4]))
    assert {alert_id for _, alert_id in kept} == {
        doc_id(order, state, start) for order, state, _, _, start in expected
    }
    # the latest alert per key (what compaction keeps) is the order's final state
    last = {key: json.loads(value)["state"] for key, _, value in messages}
    assert last == {ids["late"]: "breached", ids["failed"]: "met", ids["overdue"]: "missed"}
    with engine.connect() as conn:
        assert {k.value: v for k, v in SqlAlertRepository(conn).count_alerting().items()} == {
            "breached": 1
        }
        assert SqlAlertRepository(conn).pending(10) == []
    engine.dispose()
    report_figures(
        "alerts",
        alerts=len(kept),
        alert_messages=len(messages),
        seconds=round(time.monotonic() - started, 1),
    )

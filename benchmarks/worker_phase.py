"""The phases of ``bench_consumer.py`` that run the product: fill the topics, the worker, naive.

Each runs in its own child process, so RSS and CPU are its own.
"""

from __future__ import annotations

import os
import resource
import time
import uuid
from typing import Any

#: The faulted stream both sinks read: the rates of the measured comparison.
FAULT_RATES = {"reorder_rate": 0.05, "duplicate_rate": 0.02, "late_rate": 0.02, "orphan_rate": 0.02}
#: Events per simulated order (64,000 orders are about 509,000 events).
EVENTS_PER_ORDER = 509_000 / 64_000


def cpu_s() -> float:
    """User + system CPU of this process (all threads) so far."""
    t = os.times()
    return t.user + t.system


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(bootstrap: str, topics: list[str], orders: int) -> dict[str, Any]:
    """Publish a faulted simulation of ``orders`` orders; messages sent and faults per kind."""
    from collections import Counter

    from infra.kafka.admin import ensure_topics
    from infra.kafka.producer import DeliveryCounter, build_producer, drain, send
    from producer.faults import FaultConfig
    from producer.publish import planned_messages
    from producer.simulation import SimulationConfig

    ensure_topics(
        {"bootstrap.servers": bootstrap}, topics, partitions=6, config={"retention.ms": "-1"}
    )
    counter = DeliveryCounter()
    producer = build_producer({"bootstrap.servers": bootstrap}, counter)
    faults: Counter[str] = Counter()
    sent = 0
    config = SimulationConfig(orders=orders, seed=1)
    for m in planned_messages(config, FaultConfig.from_rates(FAULT_RATES)):
        topic = topics[0] if m.topic_kind == "order-created" else topics[1]
        send(producer, topic, m.key, m.value, m.timestamp_ms)
        faults[m.fault or "none"] += 1
        sent += 1
    assert drain(producer, 300) == 0 and counter.failed == 0, counter.errors
    warm_group_coordinator(bootstrap, topics[0])
    return {"sent": sent, "faults": dict(faults)}


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete the run's topics (filled with retention off, they would keep their data)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the futures resolve
    for future in admin.delete_topics(topics).values():
        future.result(timeout=60)


def warm_group_coordinator(bootstrap: str, topic: str) -> None:
    """Commit once in a throwaway group: a fresh broker creates ``__consumer_offsets`` on
    the first group (about 3 s here), a one-time cost of the broker, not of consuming."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"warm-{uuid.uuid4().hex}"})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()


def consume(
    bootstrap: str, database_url: str, topics: list[str], batch_size: int, expected: int
) -> dict[str, Any]:
    """The real worker over the filled topics: throughput, RSS through the run, CPU."""
    from consumer.accounting import RunAccounting
    from consumer.metrics import ConsumerMetrics
    from infra.bootstrap import build_worker, migrated_engine
    from infra.settings import Settings

    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        topic_order_created=topics[0],
        topic_status_changed=topics[1],
        topic_dlq=topics[2],
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        batch_size=batch_size,
        batch_wait_s=0.5,
    )
    engine = migrated_engine(settings)
    worker = build_worker(
        settings,
        engine,
        max_events=expected,
        until_idle_s=30,
        metrics=ConsumerMetrics(),
        tune_interpreter=True,  # as the consume command runs it
    )
    samples: list[tuple[int, float]] = []
    first_batch: list[float] = []  # when the first batch was committed (after the group join)
    account = RunAccounting.committed

    def measured(self: RunAccounting, batch, outcome, duration_s, lag):  # type: ignore[no-untyped-def]
        account(self, batch, outcome, duration_s, lag)  # once per committed batch
        samples.append((batch.size, rss_mb()))
        if not first_batch:
            first_batch.append(time.perf_counter())

    RunAccounting.committed = measured  # type: ignore[method-assign]
    cpu_before = cpu_s()
    started = time.perf_counter()
    summary = worker.run()
    elapsed = time.perf_counter() - started
    python_cpu = cpu_s() - cpu_before
    done = 0
    quarter_rss = samples[0][1] if samples else 0.0
    for n, rss in samples:
        done += n
        if done <= expected // 4:
            quarter_rss = rss
    # the group join and first fetch are a fixed cost, not throughput
    first_s = (first_batch[0] - started) if first_batch else 0.0
    after_first = summary.consumed - (samples[0][0] if samples else 0)
    return {
        "events": summary.consumed,
        "applied": summary.outcome.applied,
        "seconds": round(elapsed, 2),
        "events_per_s": round(summary.consumed / elapsed),
        "first_batch_s": round(first_s, 2),
        "events_per_s_after_first_batch": round(after_first / max(elapsed - first_s, 1e-9)),
        "python_cpu_s": round(python_cpu, 2),
        "rss_mb_at_25pct": round(quarter_rss, 1),
        "rss_mb_at_end": round(samples[-1][1] if samples else 0.0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def plain(
    bootstrap: str, database_url: str, topics: list[str], batch_size: int, expected: int
) -> dict[str, Any]:
    """The hand-written sink (``plain_sink``) over the same topics."""
    import plain_sink

    cpu_before = cpu_s()
    result = plain_sink.run(bootstrap, database_url, topics, batch_size, expected)
    result["python_cpu_s"] = round(cpu_s() - cpu_before, 2)
    result["events_per_s"] = round(result["events"] / result["seconds"])
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def naive(database_url: str, sample: int) -> dict[str, float]:
    """Per event: ORM add of the history row, get + update of the sales row, commit."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from consumer.batch import ReceivedEvent
    from domain.order import summarize
    from infra.db.engine import make_engine
    from infra.db.migrate import upgrade
    from infra.db.models import OrderHistory, Sale
    from infra.db.repository import history_row, sales_row
    from producer.simulation import SimulationConfig, iter_events

    engine = make_engine(database_url)
    upgrade(engine)
    events = []
    for event in iter_events(SimulationConfig(orders=sample, seed=2)):
        events.append(event)
        if len(events) >= sample:
            break
    started = time.perf_counter()
    with Session(engine) as session:
        for event in events:
            now = datetime.now(UTC)
            session.add(OrderHistory(**history_row(ReceivedEvent(event), now)))
            row = sales_row(summarize(event), now)
            current = session.get(Sale, event.order_id)
            if current is None:
                session.add(Sale(**row))
            else:
                if (row["status_at"], row["status_rank"]) > (
                    current.status_at,
                    current.status_rank,
                ):
                    for key in ("status", "status_rank", "status_at", "status_event_id"):
                        setattr(current, key, row[key])
                current.event_count += 1
                current.updated_at = now
            session.commit()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"naive_events": len(events), "naive_events_per_s": round(len(events) / elapsed)}

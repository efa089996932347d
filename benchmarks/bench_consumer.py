"""Consumer throughput: a pre-filled topic into PostgreSQL, next to a naive baseline.

    python benchmarks/bench_consumer.py [--orders 64000] [--batch-size 5000]

Uses ``SLA_BENCH_KAFKA`` / ``SLA_BENCH_DATABASE_URL`` when set, otherwise starts
a throwaway broker and PostgreSQL on 127.0.0.1 (``devservices``). Phases run
in child processes so the consumer's RSS is its own: ``fill`` simulates and
publishes (and has the broker create its group offsets topic), ``consume`` runs
the real worker (history + guarded upsert + offsets in one transaction per
batch), ``naive`` applies a sample one event per ORM add + commit. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(bootstrap: str, topics: list[str], orders: int) -> int:
    from infra.kafka.admin import ensure_topics
    from infra.kafka.producer import DeliveryCounter, build_producer, drain, send
    from producer.messages import message_for
    from producer.simulation import SimulationConfig, iter_events

    ensure_topics(
        {"bootstrap.servers": bootstrap}, topics, partitions=6, config={"retention.ms": "-1"}
    )
    counter = DeliveryCounter()
    producer = build_producer({"bootstrap.servers": bootstrap}, counter)
    sent = 0
    for event in iter_events(SimulationConfig(orders=orders, seed=1)):
        m = message_for(event)
        send(
            producer,
            topics[0] if m.topic_kind == "order-created" else topics[1],
            m.key,
            m.value,
            m.timestamp_ms,
        )
        sent += 1
    assert drain(producer, 300) == 0 and counter.failed == 0, counter.errors
    warm_group_coordinator(bootstrap, topics[0])
    return sent


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
) -> dict[str, float]:
    from consumer.accounting import RunAccounting
    from consumer.metrics import ConsumerMetrics
    from infra.bootstrap import build_worker, migrated_engine
    from infra.settings import Settings

    settings = Settings(
        database_url=database_url,  # type: ignore[arg-type]
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
        samples.append((batch.size, _rss_mb()))
        if not first_batch:
            first_batch.append(time.perf_counter())

    RunAccounting.committed = measured  # type: ignore[method-assign]
    started = time.perf_counter()
    summary = worker.run()
    elapsed = time.perf_counter() - started
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
        "rss_mb_at_25pct": round(quarter_rss, 1),
        "rss_mb_at_end": round(samples[-1][1] if samples else 0.0, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


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
    return {"naive_events": len(events), "naive_events_per_s": round(len(events) / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "phase", nargs="?", default="all", choices=["all", "fill", "consume", "naive"]
    )
    # 64,000 simulated orders are about 509,000 events
    parser.add_argument("--orders", type=int, default=64_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--naive-sample", type=int, default=3000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--database-url")
    parser.add_argument("--topics")
    parser.add_argument("--expected", type=int, default=0)
    args = parser.parse_args()
    if args.phase == "fill":
        print(json.dumps({"sent": fill(args.bootstrap, args.topics.split(","), args.orders)}))
        return
    if args.phase == "consume":
        print(
            json.dumps(
                consume(
                    args.bootstrap,
                    args.database_url,
                    args.topics.split(","),
                    args.batch_size,
                    args.expected,
                )
            )
        )
        return
    if args.phase == "naive":
        print(json.dumps(naive(args.database_url, args.naive_sample)))
        return
    run_all(args)


def _child(*argv: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_all(args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine, make_url, text

    with ExitStack() as stack:
        bootstrap = os.environ.get("SLA_BENCH_KAFKA")
        base_url = os.environ.get("SLA_BENCH_DATABASE_URL")
        if not bootstrap:
            from devservices import LocalKafka

            bootstrap = stack.enter_context(LocalKafka(startup_timeout=180)).bootstrap
        if not base_url:
            from devservices import LocalPostgres

            base_url = stack.enter_context(LocalPostgres()).url
        run = uuid.uuid4().hex[:8]
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        urls = {}
        for name in ("fast", "naive"):
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "bench_{name}_{run}"'))
            urls[name] = (
                make_url(base_url)
                .set(database=f"bench_{name}_{run}")
                .render_as_string(hide_password=False)
            )
        topics = ",".join(f"bench-{t}-{run}" for t in ("created", "changed", "dlq"))
        t0 = time.perf_counter()
        sent = int(
            _child(
                "fill", "--bootstrap", bootstrap, "--topics", topics, "--orders", str(args.orders)
            )["sent"]
        )
        print(f"filled {sent} events in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        fast = _child(
            "consume",
            "--bootstrap",
            bootstrap,
            "--database-url",
            urls["fast"],
            "--topics",
            topics,
            "--batch-size",
            str(args.batch_size),
            "--expected",
            str(sent),
        )
        slow = _child(
            "naive", "--database-url", urls["naive"], "--naive-sample", str(args.naive_sample)
        )
        result = {
            **fast,
            **slow,
            "speedup": round(fast["events_per_s"] / slow["naive_events_per_s"], 1),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()

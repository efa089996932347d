"""Producer throughput: generate to files, and publish to a real local broker.

    .venv/bin/python benchmarks/bench_producer.py [--orders N]

Uses the broker named by SLA_TEST_KAFKA_BOOTSTRAP, or starts a throwaway local
one (devservices.LocalKafka) and stops it at the end. The last line printed
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from infra.kafka.admin import ensure_topics
from infra.kafka.producer import KafkaEventPublisher
from producer.faults import FaultConfig
from producer.files import write_csv_events, write_jsonl_lines
from producer.publish import TopicNames, planned_events, planned_lines, planned_messages, publish
from producer.simulation import SimulationConfig


@contextlib.contextmanager
def broker() -> Iterator[str]:
    if external := os.environ.get("SLA_TEST_KAFKA_BOOTSTRAP"):
        yield external
        return
    # devservices/ is development tooling outside the installed package: found beside us.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from devservices import LocalKafka

    with LocalKafka() as kafka:
        yield kafka.bootstrap


def bench_generate(orders: int, directory: Path) -> dict[str, float]:
    # each format gets its own seed: a simulation builds (and the process keeps) the
    # Faker customer base of its seed, and each timed run must pay for that, as the CLI does
    # CPU time too: on a shared machine wall time swings with the neighbours' load,
    # while a single-threaded run's CPU time stays put
    started, cpu = time.perf_counter(), time.process_time()
    config = SimulationConfig(orders=orders, seed=1)
    csv_summary = write_csv_events(planned_events(config, FaultConfig()), directory)  # = generate
    csv_s, csv_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    lines = planned_lines(SimulationConfig(orders=orders, seed=3), FaultConfig())  # = generate
    jsonl_summary = write_jsonl_lines(lines, directory / "e.jsonl")
    jsonl_s, jsonl_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "events": csv_summary.written,
        "generate_csv_events_per_s": round(csv_summary.written / csv_s),
        "generate_jsonl_events_per_s": round(jsonl_summary.written / jsonl_s),
        "generate_csv_events_per_cpu_s": round(csv_summary.written / csv_cpu),
        "generate_jsonl_events_per_cpu_s": round(jsonl_summary.written / jsonl_cpu),
    }


def bench_publish(bootstrap: str, orders: int) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    topics = TopicNames(f"bench-created-{run}", f"bench-changed-{run}")
    client = {"bootstrap.servers": bootstrap}
    ensure_topics(client, [topics.order_created, topics.status_changed], partitions=6)
    # pre-encoded: the timed loop is only produce() calls and failure reports
    messages = list(planned_messages(SimulationConfig(orders=orders, seed=2), FaultConfig()))
    publisher = KafkaEventPublisher(client)
    warm = KafkaEventPublisher(client)
    publish(messages[:1000], warm, topics)  # metadata, idempotent producer id
    cpu = time.process_time()
    result = publish(messages, publisher, topics)
    cpu = time.process_time() - cpu  # this process only (librdkafka threads included)
    return {
        "publish_events_per_s": round(result.delivered / result.elapsed_s),
        "publish_events_per_client_cpu_s": round(result.delivered / cpu),
        "published": result.delivered,
        "publish_failed": result.failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=40_000, help="orders (~8 events each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-producer-") as tmp:
        figures = bench_generate(args.orders, Path(tmp))
    print(f"generate: {figures}", flush=True)
    figures["generate_events_per_s"] = min(
        figures["generate_csv_events_per_s"], figures["generate_jsonl_events_per_s"]
    )
    with broker() as bootstrap:
        published = bench_publish(bootstrap, args.orders)
    print(f"publish: {published}", flush=True)
    figures.update(published)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()

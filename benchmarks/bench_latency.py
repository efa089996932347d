"""Latency: from publish to visible in the database, with a live producer at a steady rate.

    python benchmarks/bench_latency.py [--rate 5000] [--latency-seconds 60]

Uses ``SLA_BENCH_KAFKA`` / ``SLA_BENCH_DATABASE_URL`` (a fresh database and
fresh topics on them; the database is dropped afterwards). ``sla-pipeline
consume`` runs with its default settings in a child process; a warm-up of a few
events waits until the worker has joined and migrated. Then the simulation's
events are published at ``--rate`` per second for ``--latency-seconds``, each
one's publish time (wall clock, just before ``produce``) kept by event id.

Visible means committed: a reader polls the worker's ``consumer_offsets`` every
``--poll-ms`` on its own connection, and an event counts as visible at the first
poll whose recorded next offset of its partition is past its own offset (from
its delivery report). The offsets are recorded in the same transaction as the
event's history row and its effect on ``sales``, so that is when a reader of
``sales`` can first see it. The poll interval bounds the error (a latency is
overstated by at most one interval plus the query); the events seen are checked
against a final full read of ``order_history``, so an event the offsets count
but history lacks is reported, and an event not seen in the run counts as
slower than all seen ones (a percentile it reaches is null). The last line is
one JSON object, with the load average before and after.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import psycopg
from pg_probe import libpq_url
from worker_phase import delete_topics

WARM_UP_EVENTS = 50


class Poller(threading.Thread):
    """Record when each partition's committed offset moves (``consumer_offsets``)."""

    def __init__(self, url: str, group: str, interval_s: float) -> None:
        super().__init__(daemon=True)
        self._url = libpq_url(url)
        self._group = group
        self._interval_s = interval_s
        #: per (topic, partition): (next offset recorded, first poll that read it)
        self.moves: dict[tuple[str, int], list[tuple[int, float]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self.stop.is_set():
                try:
                    rows = conn.execute(
                        "SELECT topic, partition, next_offset FROM consumer_offsets"
                        " WHERE consumer_group = %s",
                        (self._group,),
                    ).fetchall()
                except psycopg.errors.UndefinedTable:
                    rows = []  # not migrated yet
                now = time.time()
                for topic, partition, next_offset in rows:
                    moves = self.moves.setdefault((topic, partition), [])
                    if not moves or next_offset > moves[-1][0]:
                        moves.append((next_offset, now))
                self.stop.wait(self._interval_s)

    def visible_at(self, position: tuple[str, int, int]) -> float | None:
        """When the message at ``position`` (topic, partition, offset) was first seen
        committed (``None``: not in the run)."""
        topic, partition, offset = position
        moves = self.moves.get((topic, partition), [])
        index = bisect.bisect_right([n for n, _ in moves], offset)
        return moves[index][1] if index < len(moves) else None

    def count_visible(self, positions: dict[str, tuple[str, int, int]]) -> int:
        return sum(1 for p in positions.values() if self.visible_at(p) is not None)


def stored_event_ids(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        return {str(r[0]) for r in conn.execute("SELECT event_id FROM order_history")}


def rounded(seconds: float) -> float | None:
    return None if seconds == math.inf else round(seconds, 3)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="events per second")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument(
        "--worker-log",
        type=Path,
        help="write the worker's DEBUG log here (a line per batch: size and time)",
    )
    args = parser.parse_args()
    bootstrap = os.environ["SLA_BENCH_KAFKA"]
    base_url = os.environ["SLA_BENCH_DATABASE_URL"]
    run = uuid.uuid4().hex[:8]
    database = f"bench_latency_{run}"
    with psycopg.connect(libpq_url(base_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = base_url.rsplit("/", 1)[0] + f"/{database}"
    load_before = os.getloadavg()
    try:
        result = measure(args, bootstrap, url, run)
    finally:
        with psycopg.connect(libpq_url(base_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    # the machine is shared: the load average (1, 5, 15 min) says how loaded the run was
    result["load_avg_before"] = [round(x, 2) for x in load_before]
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


def measure(args: argparse.Namespace, bootstrap: str, url: str, run: str) -> dict[str, Any]:
    from confluent_kafka import Producer

    from infra.kafka.admin import ensure_topics
    from infra.kafka.producer import PRODUCER_GUARANTEES, PRODUCER_TUNING, drain
    from producer.faults import FaultConfig
    from producer.publish import planned_messages
    from producer.simulation import SimulationConfig

    topics = [f"lat-{t}-{run}" for t in ("created", "changed", "dlq")]
    ensure_topics({"bootstrap.servers": bootstrap}, topics, partitions=6)
    total = WARM_UP_EVENTS + int(args.rate * args.latency_seconds)
    config = SimulationConfig(orders=int(total / 7) + 10, seed=3)
    messages = list(planned_messages(config, FaultConfig()))[:total]
    env = {
        **os.environ,
        "SLA_DATABASE_URL": url,
        "SLA_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SLA_TOPIC_ORDER_CREATED": topics[0],
        "SLA_TOPIC_STATUS_CHANGED": topics[1],
        "SLA_TOPIC_DLQ": topics[2],
        "SLA_CONSUMER_GROUP": f"lat-{run}",
    }
    command = Path(sys.executable).with_name("sla-pipeline")
    log = open(args.worker_log, "w") if args.worker_log else None  # noqa: SIM115
    if log is not None:
        env["SLA_LOG_LEVEL"] = "DEBUG"
    worker = subprocess.Popen(
        [str(command), "consume"], env=env, stderr=log if log is not None else subprocess.DEVNULL
    )
    poller = Poller(url, env["SLA_CONSUMER_GROUP"], args.poll_ms / 1000)
    poller.start()
    # the pipeline's producer settings, with a delivery report for every message (its
    # own reports only errors): each report says where the message went
    producer = Producer({**PRODUCER_TUNING, "bootstrap.servers": bootstrap, **PRODUCER_GUARANTEES})
    sent: dict[str, float] = {}
    positions: dict[str, tuple[str, int, int]] = {}
    try:
        publish(producer, topics, messages[:WARM_UP_EVENTS], 1000.0, sent, positions)
        assert drain(producer, 60) == 0
        deadline = time.time() + 120
        while poller.count_visible(positions) < WARM_UP_EVENTS and time.time() < deadline:
            time.sleep(0.1)
        assert poller.count_visible(positions) >= WARM_UP_EVENTS, "the worker did not start"
        started = time.time()
        publish(producer, topics, messages[WARM_UP_EVENTS:], args.rate, sent, positions)
        publish_s = time.time() - started
        assert drain(producer, 60) == 0
        deadline = time.time() + 60
        while poller.count_visible(positions) < len(messages) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        poller.stop.set()
        poller.join()
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        if log is not None:
            log.close()
        stored = stored_event_ids(url)
        delete_topics(bootstrap, topics)
    timed = [str(m.event.event_id) for m in messages[WARM_UP_EVENTS:] if m.event is not None]
    # an event not seen within the run counts as slower than any seen one, so the
    # percentiles are never computed over the fast events only (null: not reached)
    seen_at = {
        e: at
        for e in timed
        if e in positions and (at := poller.visible_at(positions[e])) is not None
    }
    latencies = [seen_at[e] - sent[e] if e in seen_at else math.inf for e in timed]
    seen = [x for x in latencies if x != math.inf]
    # a latency that grows window after window is a backlog: the worker is slower than the rate
    windows: dict[int, list[float]] = {}
    for e in timed:
        if e in seen_at:
            windows.setdefault(int((sent[e] - started) // 10), []).append(seen_at[e] - sent[e])
    return {
        "benchmark": "latency",
        "rate_target": args.rate,
        "rate_achieved": round(len(timed) / publish_s),
        "seconds": args.latency_seconds,
        "events": len(timed),
        "visible": len(seen),
        # committed only after the poller stopped (the drain window ran out): a backlog
        "visible_after_the_window": sum(1 for e in timed if e in stored and e not in seen_at),
        "never_visible": sum(1 for e in timed if e not in stored),
        # no delivery report with an offset (a failed publish): counted as never seen
        "undelivered": sum(1 for e in timed if e not in positions),
        # counted as committed by the offsets but not in history: must be 0
        "seen_but_not_stored": sum(1 for e in seen_at if e not in stored),
        "poll_ms": args.poll_ms,
        "p50_s": rounded(percentile(latencies, 0.50)),
        "p99_s": rounded(percentile(latencies, 0.99)),
        "max_s": rounded(max(latencies)),
        "mean_s_of_visible": round(sum(seen) / max(len(seen), 1), 3),
        "p50_s_per_10s_of_publishing": [
            round(percentile(w, 0.5), 2) for _, w in sorted(windows.items())
        ],
    }


def publish(
    producer: Any,
    topics: list[str],
    messages: list[Any],
    rate: float,
    sent: dict[str, float],
    positions: dict[str, tuple[str, int, int]],
) -> None:
    """Send ``messages`` at ``rate`` per second, recording each one's publish time and
    (from its delivery report) its topic, partition and offset."""

    def delivered(event_id: str, error: Any, message: Any) -> None:
        if error is None:
            positions[event_id] = (message.topic(), message.partition(), message.offset())

    started = time.time()
    for i, m in enumerate(messages):
        due = started + i / rate
        now = time.time()
        while due - now > 0.002:  # ahead of the schedule: wait, serving delivery reports
            producer.poll(due - now)
            now = time.time()
        topic = topics[0] if m.topic_kind == "order-created" else topics[1]
        while True:
            try:
                producer.produce(
                    topic,
                    m.value,
                    m.key,
                    timestamp=int(now * 1000),
                    on_delivery=functools.partial(delivered, str(m.event.event_id)),
                )
                break
            except BufferError:
                producer.poll(0.01)
        sent[str(m.event.event_id)] = now


if __name__ == "__main__":
    main()

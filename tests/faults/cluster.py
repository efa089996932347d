"""A 3-node Kafka cluster for the failover scenario, started and stopped through
``python -m devservices.kafka start --brokers 3`` (what ``scripts/kafka`` runs), and a
monitor that measures how long the applied history stops growing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, text

from devservices.kafka_cluster import LocalKafkaCluster
from infra.settings import Settings
from tests.faults.helpers import PARTITIONS, committed, ends, history_count

SERVICE_CLI = [sys.executable, "-m", "devservices.kafka"]


@contextmanager
def cli_cluster(state_dir: Path) -> Iterator[LocalKafkaCluster]:
    """Start a 3-node cluster with the command line, yield a handle on it, stop it after.

    Checks the command's contract on the way: one export line naming all three
    addresses, and after ``stop`` no node process and no directory left.
    """
    argv = [*SERVICE_CLI, "start", "--brokers", "3", "--state-dir", str(state_dir)]
    started = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((state_dir / "kafka.json").read_text())
    exports = [line for line in started.stdout.splitlines() if line.startswith("export ")]
    assert exports == [f"export SLA_KAFKA_BOOTSTRAP_SERVERS='{state['address']}'"]
    assert len(state["address"].split(",")) == 3
    cluster = LocalKafkaCluster.attach(state)
    try:
        yield cluster
    finally:
        # Nodes restarted by the scenario run under new pids: record them, as
        # ``scripts/kafka start`` would, so that ``stop`` finds every one.
        (state_dir / "kafka.json").write_text(json.dumps(cluster.state()))
        argv = [*SERVICE_CLI, "stop", "--state-dir", str(state_dir)]
        stopped = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not cluster.is_running(), "a node survived stop"
        assert not Path(state["directory"]).exists()


def busiest_leader(cluster: LocalKafkaCluster, settings: Settings) -> int:
    """``node.id`` leading the event partition that holds the most messages."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "failover-probe"})
    try:
        sizes = {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for topic in settings.topics
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()
    topic, partition = max(sizes, key=lambda tp: sizes[tp])
    metadata = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=30)
    return int(metadata.topics[topic].partitions[partition].leader)


class StallMonitor:
    """Samples ``order_history`` rows every 0.1 s; ``longest`` is the longest time without
    growth between the first row and the ``expected`` count (a stalled pipeline)."""

    def __init__(self, engine: Engine, expected: int) -> None:
        self._engine, self._expected = engine, expected
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_count, last_growth = 0, None
        while not self._stop.wait(0.1):
            count = history_count(self._engine)
            now = time.monotonic()
            if count > last_count:
                if last_growth is not None:
                    self.longest = max(self.longest, now - last_growth)
                last_count, last_growth = count, now
            elif last_growth is not None and count < self._expected:
                self.longest = max(self.longest, now - last_growth)
            if count >= self._expected:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.longest


def partition_standing(settings: Settings, engine: Engine) -> str:
    """Per event partition: its end, the group's committed offset in Kafka, the
    database's recorded offset and owner epoch, and the history rows read from it --
    where a stalled stream stopped (a partition read by nobody, or passed over)."""
    try:
        high, kafka = ends(settings), committed(settings)
    except Exception as error:  # a diagnostic: say what could not be read
        return f"offsets unreadable: {error!r}"
    with engine.connect() as conn:
        recorded = {
            (row.topic, row.partition): (row.next_offset, row.owner_epoch)
            for row in conn.execute(
                text(
                    "SELECT topic, partition, next_offset, owner_epoch FROM consumer_offsets "
                    "WHERE consumer_group = :group"
                ),
                {"group": settings.consumer_group},
            )
        }
        rows = {
            (row.source_topic, row.source_partition): (row.n, row.top)
            for row in conn.execute(
                text(
                    "SELECT source_topic, source_partition, count(*) AS n, "
                    "max(source_offset) AS top FROM order_history "
                    "GROUP BY source_topic, source_partition"
                )
            )
        }
    return "\n".join(
        f"{topic}[{partition}]: end {end}, kafka committed {kafka.get((topic, partition))}, "
        f"database (offset, epoch) {recorded.get((topic, partition))}, "
        f"history (rows, last offset) {rows.get((topic, partition))}"
        for (topic, partition), end in sorted(high.items())
    )

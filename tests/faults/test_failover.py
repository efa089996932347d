"""Scenario: broker failover on a replicated 3-node KRaft cluster during a live stream.

Two ``sla-pipeline consume`` workers share the stream while the node leading the busiest
partition is SIGKILLed and restarted, then the active controller, then every node is
restarted in turn (a rolling restart). Topics are made by ``sla-pipeline topics create``,
which picks replication 3 and ``min.insync.replicas=2`` on this cluster (and, asked to,
keeps the event topics' old-stamped messages forever); the producer
writes with ``acks=all`` and idempotence. Required: nothing lost, nothing applied twice,
the final database equal to both oracles, no dead letter but the malformed messages,
producer and workers recovering without help. The longest stall is reported.

The cluster is started and stopped through the ``scripts/kafka`` command line, once for
the module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from devservices import ServiceUnavailable
from devservices.kafka_cluster import LocalKafkaCluster
from infra.bootstrap import migrated_engine
from infra.settings import Settings
from tests.conftest import _unavailable
from tests.faults.cluster import (
    StallMonitor,
    busiest_leader,
    cli_cluster,
    partition_standing,
)
from tests.faults.helpers import (
    MIXED_FAULTS,
    PARTITIONS,
    SLA_PIPELINE,
    assert_final_database,
    check_dead_letters,
    faulted_stream,
    fully_committed,
    history_count,
    publish_gradually,
    report_figures,
    wait_until,
    worker_env,
)
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]
ORDERS = 1500
DOWN_S = 3.0  # how long a crashed node stays down


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    try:
        from devservices import kafka_dist

        kafka_dist.java_executable()
    except ServiceUnavailable as exc:
        _unavailable("a native 3-node Kafka cluster", str(exc))  # a failure under CI
    with cli_cluster(tmp_path_factory.mktemp("cluster-state")) as cluster:
        yield cluster


def create_topics(cluster: LocalKafkaCluster, unique_id: str, tmp_path: Path) -> dict[str, str]:
    """Topics made by ``sla-pipeline topics create`` with its defaults for this cluster,
    keeping the event topics' messages forever: they are stamped with simulated event
    times years old, which a finite retention deletes at the next check (each broker
    runs one soon after it starts) -- before the workers read them, when they lag."""
    names = {
        "SLA_TOPIC_ORDER_CREATED": f"oc-{unique_id}",
        "SLA_TOPIC_STATUS_CHANGED": f"sc-{unique_id}",
        "SLA_TOPIC_DLQ": f"dlq-{unique_id}",
    }
    env = {**os.environ, "SLA_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap, **names}
    argv = [*SLA_PIPELINE, "topics", "create", "--partitions", str(PARTITIONS), "--retention-ms=-1"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "replication 3, min.insync.replicas 2"
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})

    def led() -> bool:  # every broker learns of new topics a moment after the controller
        topics = admin.list_topics(timeout=30).topics
        return all(
            name in topics and all(p.leader >= 0 for p in topics[name].partitions.values())
            for name in names.values()
        )

    assert wait_until(led, 30)
    metadata = admin.list_topics(timeout=30)
    for name in names.values():
        for partition in metadata.topics[name].partitions.values():
            assert len(partition.replicas) == 3, (name, partition.replicas)
    events = [
        ConfigResource(ConfigResource.Type.TOPIC, names[k])
        for k in ("SLA_TOPIC_ORDER_CREATED", "SLA_TOPIC_STATUS_CHANGED")
    ]
    for resource, future in admin.describe_configs(events).items():
        assert future.result(timeout=30)["retention.ms"].value == "-1", resource
    return names


def crash_and_restart(cluster: LocalKafkaCluster, node_id: int) -> float:
    """SIGKILL one node, keep it down a moment, start it; seconds until fully replicated."""
    node = cluster.node(node_id)
    node.stop(keep_data=True, graceful=False)
    started = time.monotonic()
    time.sleep(DOWN_S)
    node.start()
    cluster.wait_fully_replicated(90)
    return time.monotonic() - started


def rolling_restart(cluster: LocalKafkaCluster) -> float:
    """Stop and start each node in turn, waiting for full replication in between."""
    started = time.monotonic()
    for node in cluster.nodes:
        node.restart()
        cluster.wait_fully_replicated(90)
    return time.monotonic() - started


def test_broker_failover_loses_nothing_and_duplicates_nothing(
    kafka_cluster: LocalKafkaCluster,
    pg_database_url: str,
    unique_id: str,
    seed: int,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    names = create_topics(kafka_cluster, unique_id, tmp_path)
    settings = Settings(
        database_url=pg_database_url,
        kafka_bootstrap_servers=kafka_cluster.bootstrap,
        topic_order_created=names["SLA_TOPIC_ORDER_CREATED"],
        topic_status_changed=names["SLA_TOPIC_STATUS_CHANGED"],
        topic_dlq=names["SLA_TOPIC_DLQ"],
        consumer_group=f"failover-{unique_id}",
        batch_size=250,
        batch_wait_s=0.2,
    )
    stream = faulted_stream(ORDERS, seed, **MIXED_FAULTS)
    engine = migrated_engine(settings)
    workers = [WorkerProcess(worker_env(settings)) for _ in range(2)]
    publisher = publish_gradually(settings, stream.messages, chunks=100, pause_s=0.5)
    assert wait_until(lambda: history_count(engine) > 0, 60)
    monitor = StallMonitor(engine, len(stream.valid_events))

    leader = busiest_leader(kafka_cluster, settings)
    leader_s = crash_and_restart(kafka_cluster, leader)
    controller = kafka_cluster.active_controller()
    assert controller is not None
    controller_s = crash_and_restart(kafka_cluster, controller)
    rolling_s = rolling_restart(kafka_cluster)
    assert all(worker.alive for worker in workers), "a worker died in the failover"

    publisher.join(timeout=120)
    assert not publisher.is_alive() and not publisher.errors  # type: ignore[attr-defined]
    applied = wait_until(lambda: history_count(engine) == len(stream.valid_events), 90)
    assert applied, (
        f"{history_count(engine)} of {len(stream.valid_events)} events applied; partitions:\n"
        + partition_standing(settings, engine)
        + "\nworkers said:\n"
        + "".join(line for w in workers for line in w.lines if "position was reset" in line)
        + "\n".join(worker.output()[-1500:] for worker in workers)
    )
    assert wait_until(lambda: fully_committed(settings), 60)
    longest_stall = monitor.stop()
    for worker in workers:
        os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()[-3000:]
    engine.dispose()

    got = assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)  # only the malformed: none from failover
    report_figures(
        "broker-failover",
        orders=ORDERS,
        messages=len(stream.messages),
        killed_leader=leader,
        killed_controller=controller,
        leader_recovery_s=round(leader_s, 1),
        controller_recovery_s=round(controller_s, 1),
        rolling_restart_s=round(rolling_s, 1),
        longest_stall_s=round(longest_stall, 1),
        applied=len(got["order_history"]),
        dead_letters=letters.distinct,
        dead_letter_messages=letters.total,
        seconds=round(time.monotonic() - started, 1),
    )

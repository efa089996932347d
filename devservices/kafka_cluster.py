"""A real multi-node Apache Kafka cluster on 127.0.0.1: N combined broker+controller nodes.

    with LocalKafkaCluster(brokers=3) as cluster:
        produce_to(cluster.bootstrap)  # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"

Every node is a ``LocalKafka`` from the same Maven jars, formatted with one cluster id and a
static KRaft quorum of all nodes, so any majority elects a controller. Internal topics
(consumer offsets, transactions) are replicated ``min(3, brokers)`` times. Nodes can be
crashed and restarted one at a time (``cluster.nodes[i].stop(keep_data=True, graceful=False)``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from devservices import pids_and_ports
from devservices.base import StartedInContext
from devservices.exceptions import ServiceStartError
from devservices.kafka import LocalKafka, new_cluster_id


class LocalKafkaCluster(StartedInContext):
    """``brokers`` Kafka nodes in sub-directories ``node-<id>`` of one directory.

    ``start()`` launches every node before waiting, because a node answers only once a
    majority of the quorum runs; ``stop()`` stops them all by pid and removes what this object
    created. Raises ServiceStartError with the failing node's log when the cluster does not
    come up, ServiceUnavailable when Java or the jars cannot be had.
    """

    name = "kafka"

    def __init__(
        self,
        *,
        brokers: int = 3,
        directory: Path | str | None = None,
        version: str | None = None,
        heap: str = "384m",
        tie_to_parent: bool = True,
        startup_timeout: float = 180.0,
        nodes: list[LocalKafka] | None = None,
    ) -> None:
        if brokers < 1:
            raise ValueError(f"a cluster needs at least one broker, not {brokers}")
        self._owns_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="sla-kafka-cluster-"))
        if nodes is not None:
            self.nodes = nodes
            return
        ports = _distinct_ports(2 * brokers)
        voters = ",".join(
            f"{i + 1}@{pids_and_ports.LOOPBACK}:{ports[brokers + i]}" for i in range(brokers)
        )
        cluster_id = new_cluster_id()
        self.nodes = [
            LocalKafka(
                port=ports[i],
                controller_port=ports[brokers + i],
                directory=self.directory / f"node-{i + 1}",
                version=version,
                heap=heap,
                tie_to_parent=tie_to_parent,
                startup_timeout=startup_timeout,
                node_id=i + 1,
                voters=voters,
                cluster_id=cluster_id,
                internal_replication=min(3, brokers),
            )
            for i in range(brokers)
        ]
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)

    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers`` naming every node."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def pid(self) -> int | None:
        """The first node's pid (the state file lists all of them)."""
        return self.nodes[0].pid

    def node(self, node_id: int) -> LocalKafka:
        """The node with KRaft ``node.id`` ``node_id``."""
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self) -> Self:
        """Start every node that is not running and wait until each answers."""
        try:
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node by pid; remove the directory when this object made it.

        The nodes are killed, not shut down: their data goes with them, and a graceful
        stop of each in turn waits on the others' controlled shutdown (half a minute).
        """
        for node in self.nodes:
            node.stop(graceful=False)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def is_running(self) -> bool:
        """True when any node's process is alive."""
        return any(node.is_running() for node in self.nodes)

    def is_ready(self) -> bool:
        """True when every node runs and answers."""
        return all(node.is_ready() for node in self.nodes)

    def active_controller(self) -> int | None:
        """``node.id`` of the KRaft quorum leader, from the nodes' ``quorum-state`` files.

        The file of the node that heard of the newest election wins; None before any.
        """
        best: tuple[int, int] | None = None
        for node in self.nodes:
            path = node.data_dir / "__cluster_metadata-0" / "quorum-state"
            try:
                quorum = json.loads(path.read_text())
            except (OSError, ValueError):  # not written yet, or being rewritten
                continue
            leader, epoch = quorum.get("leaderId", -1), int(quorum.get("leaderEpoch", -1))
            if leader >= 0 and (best is None or epoch > best[1]):
                best = (int(leader), epoch)
        return best[0] if best is not None else None

    def under_replicated(self) -> int:
        """Partitions whose in-sync replicas are fewer than their replicas (-1: no answer)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=5)
        except KafkaException:
            return -1
        return sum(
            len(partition.isrs) < len(partition.replicas)
            for topic in metadata.topics.values()
            for partition in topic.partitions.values()
        )

    def wait_fully_replicated(self, timeout_s: float = 60.0) -> float:
        """Wait until no partition is under-replicated; returns the seconds it took.

        Raises ServiceStartError when replicas are still missing after ``timeout_s``.
        """
        started = time.monotonic()
        if not pids_and_ports.wait_until(lambda: self.under_replicated() == 0, timeout=timeout_s):
            raise ServiceStartError(f"partitions still under-replicated after {timeout_s:g}s")
        return time.monotonic() - started

    def state(self) -> dict[str, Any]:
        """What a later process needs to find and stop these nodes (see ``attach``)."""
        nodes = [node.state() for node in self.nodes]
        return {
            "service": self.name,
            "brokers": len(self.nodes),
            "pid": self.pid,
            "pids": [node["pid"] for node in nodes],
            "directory": str(self.directory),
            "owns_directory": self._owns_directory,
            "address": self.bootstrap,
            "nodes": nodes,
        }

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Self:
        """A handle on a cluster started by another process, from its ``state()``."""
        nodes = [LocalKafka.attach(node) for node in state["nodes"]]
        cluster = cls(brokers=len(nodes), directory=state["directory"], nodes=nodes)
        cluster._owns_directory = bool(state["owns_directory"])
        return cluster

    def __repr__(self) -> str:
        return f"<LocalKafkaCluster {self.bootstrap} dir={self.directory}>"


def _distinct_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = pids_and_ports.free_port()
        if port not in ports:
            ports.append(port)
    return ports

"""A real single-node Apache Kafka 4.x broker (KRaft, broker + controller) on 127.0.0.1.

    with LocalKafka() as kafka:
        produce_to(kafka.bootstrap)

Command line (used by ``scripts/kafka``): ``python -m devservices.kafka start|stop|status``;
``start --brokers 3`` starts a ``LocalKafkaCluster`` instead.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import Any, Self

import click
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from devservices import kafka_dist, pids_and_ports
from devservices.base import LocalService
from devservices.exceptions import ServiceStartError
from devservices.service_commands import Managed, service_commands

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def new_cluster_id() -> str:
    """A fresh KRaft cluster id (22 characters of url-safe base64)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class LocalKafka(LocalService):
    """A Kafka broker process started from Maven-fetched jars, with its own data directory.

    ``bootstrap`` is ``127.0.0.1:<port>``; the KRaft controller listens on ``controller_port``.
    Topics are never auto-created. Alone it is node 1, its own quorum, and internal topics use
    replication factor 1; as a node of a ``LocalKafkaCluster`` it is given its ``node_id``,
    the quorum ``voters``, the shared ``cluster_id`` and the internal topics' replication. Raises
    ServiceUnavailable when Java or the jars cannot be had, ServiceStartError when the broker
    does not answer a metadata request in time.
    """

    name = "kafka"
    _libs: Path
    _java: str

    def __init__(
        self,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        directory: Path | str | None = None,
        version: str | None = None,
        heap: str = "512m",
        tie_to_parent: bool = True,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
        node_id: int = 1,
        voters: str | None = None,
        cluster_id: str | None = None,
        internal_replication: int = 1,
    ) -> None:
        super().__init__(
            port=port,
            directory=directory,
            tie_to_parent=tie_to_parent,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
        )
        self._controller_port = controller_port
        self.version = version or kafka_dist.kafka_version()
        self.heap = heap
        self.node_id = node_id
        self._voters = voters
        self.cluster_id = cluster_id
        self.internal_replication = internal_replication

    @property
    def voters(self) -> str:
        """``controller.quorum.voters``: this node alone unless a cluster named its peers."""
        return self._voters or f"{self.node_id}@{pids_and_ports.LOOPBACK}:{self.controller_port}"

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value for clients."""
        return f"{pids_and_ports.LOOPBACK}:{self.port}"

    @property
    def controller_port(self) -> int:
        """Port of the KRaft controller listener; chosen on first access when none was given."""
        if self._controller_port is None:
            self._controller_port = pids_and_ports.free_port()
            while self._controller_port == self.port:
                self._controller_port = pids_and_ports.free_port()
        return self._controller_port

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Self:
        """A handle on a broker started by another process, from its ``state()``."""
        kafka = cls(
            port=int(state["port"]),
            controller_port=int(state["controller_port"]),
            directory=state["directory"],
            version=str(state["version"]),
            tie_to_parent=False,
            node_id=int(state.get("node_id", 1)),
            voters=state.get("voters"),
            cluster_id=state.get("cluster_id"),
            internal_replication=int(state.get("internal_replication", 1)),
        )
        if state.get("pid") is not None:
            kafka._attach_pid(int(state["pid"]), owns_directory=bool(state["owns_directory"]))
        return kafka

    def _state_extra(self) -> dict[str, Any]:
        return {
            "controller_port": self.controller_port,
            "version": self.version,
            "address": self.bootstrap,
            "node_id": self.node_id,
            "voters": self.voters,
            "cluster_id": self.cluster_id,
            "internal_replication": self.internal_replication,
        }

    def _extra_ports(self) -> list[int]:
        return [self.controller_port]

    def _prepare(self) -> None:
        self._libs = kafka_dist.kafka_libs(self.version)
        self._java = kafka_dist.java_executable()
        # Rewritten on every start: the ports and paths are fixed, so a restart sees the same.
        self.config_path.write_text(self._server_properties())
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or new_cluster_id()
        argv = [
            *self._java_prefix(),
            "kafka.tools.StorageTool",
            "format",
            # "=" form: a urlsafe-base64 id may start with "-", which argparse would
            # take for an option and refuse ("expected one argument")
            f"--cluster-id={cluster_id}",
            "--config",
            str(self.config_path),
        ]
        try:
            pids_and_ports.run_checked(argv, cwd=self.directory)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ServiceStartError(f"KRaft storage format failed: {exc}\n{exc.output}") from exc

    def _command(self) -> list[str]:
        return [*self._java_prefix(), "kafka.Kafka", str(self.config_path)]

    def _is_ready(self) -> bool:
        if not pids_and_ports.port_accepts(self.port):
            return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=2)
        except KafkaException:  # the broker is still starting
            return False
        return bool(metadata.brokers)

    def _java_prefix(self) -> list[str]:
        return [
            self._java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.directory / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{self._libs}/*",
        ]

    def _server_properties(self) -> str:
        host = pids_and_ports.LOOPBACK
        replicas = str(self.internal_replication)
        # A replicated internal topic still accepts writes with one broker down.
        min_isr = str(min(2, self.internal_replication))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://{host}:{self.port},CONTROLLER://{host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            # After a crash the controller refuses the restarted broker until the old session
            # expires (default 9 s); keep that short so crash-restart tests stay quick.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "delete.topic.enable": "true",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())


def _attach(state: dict[str, Any]) -> Managed:
    if "nodes" in state:
        from devservices.kafka_cluster import LocalKafkaCluster

        return LocalKafkaCluster.attach(state)
    return LocalKafka.attach(state)


def _cluster(port: int | None, brokers: int) -> Managed | None:
    if brokers == 1:
        return None
    if port is not None:
        raise click.UsageError("--port applies to a single broker; a cluster picks free ports")
    from devservices.kafka_cluster import LocalKafkaCluster

    return LocalKafkaCluster(brokers=brokers, tie_to_parent=False)


_BROKERS = click.Option(
    ["--brokers"],
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="Combined broker+controller nodes; 3 makes a replicated cluster.",
)

main = service_commands(
    "kafka",
    create=lambda port: LocalKafka(port=port, tie_to_parent=False),
    attach=_attach,
    variant=(_BROKERS, _cluster),
    address_label="bootstrap",
    env_hint="SLA_KAFKA_BOOTSTRAP_SERVERS",
)

if __name__ == "__main__":
    main()

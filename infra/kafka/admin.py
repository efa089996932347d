"""Topic administration: create the pipeline topics, idempotently; read a topic's size limit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# from their home modules: confluent_kafka.admin does not re-export them for type checkers
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from infra.kafka.client_log import client_log, with_client_log

#: Event times of simulated or replayed streams may run ahead of the broker's clock;
#: Kafka 4 rejects timestamps more than an hour in the future unless the topic allows it.
EVENT_TOPIC_CONFIG: Mapping[str, str] = {"message.timestamp.after.max.ms": str(2**63 - 1)}
#: ``retention.ms`` value that keeps messages forever.
KEEP_FOREVER = -1
#: How long a command waits for the cluster's first answer before giving up.
CONNECT_TIMEOUT_S = 10.0

TopicOutcome = Literal["created", "exists"]


def event_topic_config(retention_ms: int | None = None) -> dict[str, str]:
    """Config of an event topic; ``retention_ms=None`` leaves retention to the broker default.

    Kafka deletes by message timestamp, and event topics carry event times: history
    older than the retention is deleted at the broker's next retention check.
    Raises ``ValueError`` for a retention below -1 (-1 keeps messages forever).
    """
    config = dict(EVENT_TOPIC_CONFIG)
    if retention_ms is not None:
        if retention_ms < KEEP_FOREVER:
            raise ValueError(f"retention must be -1 (forever) or >= 0 ms, not {retention_ms}")
        config["retention.ms"] = str(retention_ms)
    return config


#: The alert topic keeps each order's latest alert (its key is the order id); a
#: republished alert (same id, same content) collapses into the one it repeats.
ALERT_TOPIC_CONFIG: Mapping[str, str] = {"cleanup.policy": "compact"}


class TopicAdminError(Exception):
    """The broker refused or did not answer a topic request (not "already exists")."""


class ClusterUnreachable(TopicAdminError):
    """No broker answered; the text names the bootstrap address and why."""


class _ClientErrors:
    """An ``error_cb`` that keeps the latest reason and whether every broker is down."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.all_down = False

    def __call__(self, error: KafkaError) -> None:
        client_log.debug("client error: %s", error.str())
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.all_down = True
        else:  # the specific cause (refused, DNS, TLS, auth) beats "1/1 brokers are down"
            self.reason = error.str()


def _admin(client_config: Mapping[str, str], errors: _ClientErrors) -> AdminClient:
    """An AdminClient whose log lines go to Python logging, not straight to stderr."""
    config: dict[str, Any] = {**client_config, "error_cb": errors}
    return AdminClient(with_client_log(config))


def _wait_for_cluster(
    admin: AdminClient, errors: _ClientErrors, bootstrap: str, timeout_s: float
) -> None:
    """Return once the cluster answers a metadata request; else raise ClusterUnreachable.

    Gives up as soon as the client reports every broker down (a refused connection
    or an unknown host will not heal in the next seconds), at the latest after
    ``timeout_s`` (an address that drops packets never refuses).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            admin.poll(0)  # serves error_cb, which holds the reason
            error = exc.args[0]
            last = error.str() if isinstance(error, KafkaError) else str(error)
        if errors.all_down or time.monotonic() >= deadline:
            reason = errors.reason or last
            raise ClusterUnreachable(f"cannot reach Kafka at {bootstrap}: {reason}")


def check_cluster(client_config: Mapping[str, str], timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ClusterUnreachable` unless the cluster answers within ``timeout_s``.

    For commands that would otherwise wait much longer before saying why; raises
    ``KafkaException`` for an invalid configuration.
    """
    errors = _ClientErrors()
    admin = _admin(client_config, errors)
    _wait_for_cluster(admin, errors, client_config.get("bootstrap.servers", "?"), timeout_s)


def broker_count(client_config: Mapping[str, str], timeout_s: float = CONNECT_TIMEOUT_S) -> int:
    """How many brokers the cluster's metadata lists now.

    Raises :class:`ClusterUnreachable` unless the cluster answers within ``timeout_s``.
    """
    errors = _ClientErrors()
    admin = _admin(client_config, errors)
    bootstrap = client_config.get("bootstrap.servers", "?")
    _wait_for_cluster(admin, errors, bootstrap, timeout_s)
    try:
        return len(admin.list_topics(timeout=timeout_s).brokers)
    except KafkaException as exc:
        raise ClusterUnreachable(f"cannot reach Kafka at {bootstrap}: {exc.args[0]}") from None


@dataclass(frozen=True)
class Durability:
    """Replicas per partition and ``min.insync.replicas`` (None: the broker's default)."""

    replication: int
    min_insync: int | None

    def topic_config(self) -> dict[str, str]:
        if self.min_insync is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync)}


def safe_durability(
    brokers: int, replication: int | None = None, min_insync: int | None = None
) -> Durability:
    """Defaults for a cluster of ``brokers``: ``min(3, brokers)`` replicas, and with 3 or
    more replicas ``min.insync.replicas=2``, so that an ``acks=all`` write survives the loss
    of any one broker and one broker may be down without stopping writes.

    Explicit values win; raises ``ValueError`` when they cannot work on this cluster.
    """
    replicas = replication if replication is not None else max(1, min(3, brokers))
    if replicas > brokers:
        raise ValueError(
            f"replication {replicas} needs {replicas} brokers; the cluster has {brokers}"
        )
    insync = min_insync if min_insync is not None else (2 if replicas >= 3 else None)
    if insync is not None and not 1 <= insync <= replicas:
        raise ValueError(
            f"min.insync.replicas {insync} must lie between 1 and the {replicas} replicas"
        )
    return Durability(replicas, insync)


def ensure_topics(
    client_config: Mapping[str, str],
    names: Iterable[str],
    *,
    partitions: int = 6,
    replication: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> dict[str, TopicOutcome]:
    """Create each topic unless it exists; existing topics are left as they are.

    Raises :class:`ClusterUnreachable` when no broker answers within
    :data:`CONNECT_TIMEOUT_S`, :class:`TopicAdminError` when the broker refuses a topic
    (bad replication factor, authorization...) or does not answer in ``timeout_s``.
    """
    unique = list(dict.fromkeys(names))
    if not unique:
        return {}
    errors = _ClientErrors()
    admin = _admin(client_config, errors)
    bootstrap = client_config.get("bootstrap.servers", "?")
    _wait_for_cluster(admin, errors, bootstrap, min(timeout_s, CONNECT_TIMEOUT_S))
    topic_config = dict(EVENT_TOPIC_CONFIG if config is None else config)
    wanted = [
        NewTopic(
            name, num_partitions=partitions, replication_factor=replication, config=topic_config
        )
        for name in unique
    ]
    try:
        futures = admin.create_topics(
            wanted, operation_timeout=timeout_s, request_timeout=timeout_s
        )
    except KafkaException as exc:
        raise TopicAdminError(f"cannot create topics: {exc.args[0]}") from None
    outcome: dict[str, TopicOutcome] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            outcome[name] = "created"
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                outcome[name] = "exists"
            else:
                raise TopicAdminError(f"topic {name!r}: {error}") from None
        except TimeoutError:
            raise TopicAdminError(
                f"topic {name!r}: no answer from the broker in {timeout_s:g}s"
            ) from None
    return outcome


def topic_max_message_bytes(
    client_config: Mapping[str, str], topic: str, *, timeout_s: float = 10.0
) -> int | None:
    """The topic's effective ``max.message.bytes`` (its own or the broker's default).

    Returns ``None`` when the broker does not answer in ``timeout_s``, the topic
    does not exist or the value cannot be read (e.g. no DescribeConfigs permission).
    """
    admin = AdminClient({**client_config})
    resource = ConfigResource(ResourceType.TOPIC, topic)
    try:
        futures = admin.describe_configs([resource], request_timeout=timeout_s)
        entries = next(iter(futures.values())).result(timeout=timeout_s)
        return int(entries["max.message.bytes"].value)
    except (KafkaException, TimeoutError, KeyError, TypeError, ValueError):
        return None


def topic_exists(
    client_config: Mapping[str, str], topic: str, *, timeout_s: float = 3.0
) -> bool | None:
    """Whether ``topic`` exists; ``None`` when the cluster does not answer in
    ``timeout_s`` (an outage is not a missing topic)."""
    admin = AdminClient(with_client_log({**client_config}))
    try:
        metadata = admin.list_topics(topic=topic, timeout=timeout_s)
    except KafkaException:
        return None
    found = metadata.topics.get(topic)
    if found is None:
        return False
    if found.error is None:
        return True
    return False if found.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART else None

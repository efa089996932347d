"""Topic administration: create the pipeline topics, idempotently; read a topic's size limit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# from their home modules: confluent_kafka.admin does not re-export them for type checkers
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

#: Event times of simulated or replayed streams may run ahead of the broker's clock;
#: Kafka 4 rejects timestamps more than an hour in the future unless the topic allows it.
EVENT_TOPIC_CONFIG: Mapping[str, str] = {"message.timestamp.after.max.ms": str(2**63 - 1)}
#: ``retention.ms`` value that keeps messages forever.
KEEP_FOREVER = -1

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


class TopicAdminError(Exception):
    """The broker refused or did not answer a topic request (not "already exists")."""


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

    Raises :class:`TopicAdminError` when the broker cannot be reached in ``timeout_s``
    or refuses a topic for another reason (bad replication factor, authorization...).
    """
    unique = list(dict.fromkeys(names))
    if not unique:
        return {}
    admin = AdminClient({**client_config})
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

"""The pipeline's topics as one set: the two event topics, the dead letters and the
SLA alerts, each created with the configuration its use needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.kafka.admin import (
    ALERT_TOPIC_CONFIG,
    EVENT_TOPIC_CONFIG,
    Durability,
    TopicOutcome,
    broker_count,
    ensure_topics,
    event_topic_config,
    safe_durability,
)


@dataclass(frozen=True)
class TopicsCreated:
    """What :meth:`PipelineTopics.create` did: the durability chosen, each topic's outcome."""

    durability: Durability
    outcome: dict[str, TopicOutcome]


@dataclass(frozen=True)
class PipelineTopics:
    """The topics of one pipeline on one cluster (a name used twice is created once)."""

    client_config: Mapping[str, str]
    events: tuple[str, str]
    dead_letters: str
    alerts: str

    @property
    def names(self) -> list[str]:
        """Every distinct topic name: events, dead letters, alerts."""
        return list(dict.fromkeys([*self.events, self.dead_letters, self.alerts]))

    def create(
        self,
        partitions: int,
        replication: int | None = None,
        min_insync: int | None = None,
        retention_ms: int | None = None,
    ) -> TopicsCreated:
        """Create the missing topics (existing ones are kept as they are).

        ``retention_ms`` applies to the event topics only. Replication and
        ``min.insync.replicas`` default to what suits the cluster found
        (``safe_durability``). Raises ``ValueError`` for settings the cluster cannot
        honour, ``TopicAdminError`` (``ClusterUnreachable`` when no broker answers)
        and ``KafkaException`` for an invalid client configuration.
        """
        durability = safe_durability(broker_count(self.client_config), replication, min_insync)
        extra = durability.topic_config()
        events = list(self.events)
        dlq = [self.dead_letters] if self.dead_letters not in events else []
        alerts = [self.alerts] if self.alerts not in [*events, *dlq] else []
        outcome: dict[str, TopicOutcome] = {}
        for names, config in (
            (events, event_topic_config(retention_ms)),
            (dlq, dict(EVENT_TOPIC_CONFIG)),
            (alerts, dict(ALERT_TOPIC_CONFIG)),
        ):
            outcome |= ensure_topics(
                self.client_config, names, partitions=partitions,
                replication=durability.replication, config=config | extra,
            )  # fmt: skip
        return TopicsCreated(durability, outcome)

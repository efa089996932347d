"""The pipeline's health on one screen: offsets in Kafka and in the database, lag,
freshness, dead letters, orders awaiting creation, illegal transitions, SLA counts.

Reading is split by service (:func:`read_database`, :func:`read_kafka`) so an
unreachable one is named; :func:`judge` decides healthy or degraded from what
was read, as a pure function. Every call is bounded by ``timeout_s``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import Consumer, KafkaException, TopicPartition
from sqlalchemy import Engine, func, select, text

from consumer.errors import InfrastructureError
from infra.db.models import ConsumerOffset, Sale
from infra.kafka.client_log import with_client_log
from infra.kafka.dead_letters import read_dead_letters

HEALTHY, DEGRADED, UNREACHABLE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """One partition of an event topic: where Kafka, the database and the log stand."""

    topic: str
    partition: int
    #: None: the group has no committed offset in Kafka / no row in consumer_offsets
    kafka_committed: int | None
    database_next: int | None
    low: int
    end: int

    @property
    def lag(self) -> int:
        """Messages not yet applied: end offset minus the database's next offset."""
        applied = self.database_next if self.database_next is not None else self.low
        return max(0, self.end - max(applied, self.low))

    @property
    def disagreement(self) -> str | None:
        """Why the stored offsets cannot be right for the topic as it is, else None."""
        where = f"{self.topic}[{self.partition}]"
        db = self.database_next
        if db is not None and db > self.end:
            return f"{where}: database offset {db} is past the end {self.end}"
        if db is not None and db < self.low:
            return f"{where}: database offset {db} is before the first kept {self.low}"
        if self.kafka_committed is not None and db is not None and self.kafka_committed > db:
            return f"{where}: Kafka committed {self.kafka_committed}, database only {db}"
        return None


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What the database says about the group and the orders."""

    offsets: Mapping[tuple[str, int], int]
    newest_event_at: datetime | None
    last_batch_at: datetime | None
    awaiting_creation: int
    illegal_transitions: int
    at_risk: int | None
    breached: int | None


@dataclass(frozen=True, slots=True)
class KafkaStatus:
    """What the broker says: offsets per partition and the dead letters by reason."""

    committed: Mapping[tuple[str, int], int]
    watermarks: Mapping[tuple[str, int], tuple[int, int]]
    dead_letters: Mapping[str, int]
    #: False when the dead-letter topic could not be read to its end in time
    dead_letters_complete: bool
    #: event topics the broker does not have
    missing_topics: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the pipeline counts as degraded (an age of None is not checked)."""

    max_lag: int = 10_000
    max_event_age_s: float | None = None


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """Everything ``sla-pipeline status`` shows, judged against ``thresholds``."""

    group: str
    now: datetime
    partitions: list[PartitionStatus]
    database: DatabaseStatus
    kafka: KafkaStatus
    thresholds: Thresholds
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return DEGRADED if self.problems else HEALTHY

    @property
    def event_age_s(self) -> float | None:
        newest = self.database.newest_event_at
        return None if newest is None else (self.now - newest).total_seconds()


def read_database(engine: Engine, group: str, *, sla_counts: bool) -> DatabaseStatus:
    """Read the database (SQLAlchemy errors propagate: the caller names the database).

    Only ``order_sla`` evaluates every order; ``sla_counts=False`` skips it.
    """
    o = ConsumerOffset
    with engine.connect() as conn:
        offsets = {
            (r.topic, r.partition): int(r.next_offset)
            for r in conn.execute(
                select(o.topic, o.partition, o.next_offset).where(o.consumer_group == group)
            )
        }
        # every batch that applies an event writes its orders' rows with its time
        # (``updated_at``), so the newest is the last batch applied (or rebuild)
        newest, waiting, illegal, last_batch = conn.execute(
            select(
                func.max(Sale.status_at),
                func.count().filter(Sale.awaiting_creation),
                func.coalesce(func.sum(Sale.illegal_transitions), 0),
                func.max(Sale.updated_at),
            )
        ).one()
        states: dict[str, int] = {}
        if sla_counts:
            states = {
                str(state): int(count)
                for state, count in conn.execute(
                    text(
                        "SELECT sla_state, COUNT(*) FROM order_sla"
                        " WHERE sla_state IN ('at_risk', 'breached') GROUP BY sla_state"
                    )
                )
            }
    return DatabaseStatus(
        offsets=offsets,
        newest_event_at=newest,
        last_batch_at=last_batch,
        awaiting_creation=int(waiting),
        illegal_transitions=int(illegal),
        at_risk=states.get("at_risk", 0) if sla_counts else None,
        breached=states.get("breached", 0) if sla_counts else None,
    )


def read_kafka(
    client_config: Mapping[str, str],
    group: str,
    topics: Sequence[str],
    dlq_topic: str,
    timeout_s: float,
) -> KafkaStatus:
    """Committed and watermark offsets of ``topics``; dead letters by reason.

    Raises ``InfrastructureError`` when the broker does not answer in ``timeout_s``.
    The dead-letter count stops at the deadline and says it is incomplete.
    """
    deadline = time.monotonic() + timeout_s
    consumer = Consumer(
        with_client_log(
            {**client_config, "group.id": group, "enable.auto.commit": False,
             "socket.timeout.ms": int(timeout_s * 1000)}
        )
    )  # fmt: skip
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        partitions = [
            TopicPartition(t, p)
            for t in topics
            if t in metadata.topics and metadata.topics[t].error is None
            for p in sorted(metadata.topics[t].partitions)
        ]
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in (consumer.committed(partitions, timeout=timeout_s) if partitions else [])
            if tp.offset >= 0
        }
        watermarks = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=timeout_s)
            for tp in partitions
        }
    except KafkaException as error:
        raise InfrastructureError("broker", f"cannot read offsets: {error}") from error
    finally:
        consumer.close()
    reasons, complete = _dead_letters(client_config, dlq_topic, deadline - time.monotonic())
    missing = [t for t in topics if t not in metadata.topics or metadata.topics[t].error]
    return KafkaStatus(committed, watermarks, reasons, complete, missing)


def _dead_letters(
    client_config: Mapping[str, str], topic: str, left_s: float
) -> tuple[dict[str, int], bool]:
    reasons: Counter[str] = Counter()
    if left_s <= 0:
        return {}, False
    deadline = time.monotonic() + left_s
    try:
        for letter in read_dead_letters(client_config, topic, timeout_s=max(left_s, 1.0)):
            reasons[letter.reason] += 1
            if time.monotonic() > deadline:
                return dict(reasons), False
    except InfrastructureError as error:
        if "not found" in str(error):  # no dead letter was ever written
            return {}, True
        return dict(reasons), False
    return dict(reasons), True


def judge(
    group: str,
    now: datetime,
    database: DatabaseStatus,
    kafka: KafkaStatus,
    thresholds: Thresholds,
) -> PipelineStatus:
    """Join both sides per partition and list what makes the pipeline degraded."""
    keys = sorted(set(kafka.watermarks) | set(database.offsets))
    partitions = [
        PartitionStatus(
            topic=t,
            partition=p,
            kafka_committed=kafka.committed.get((t, p)),
            database_next=database.offsets.get((t, p)),
            low=kafka.watermarks.get((t, p), (0, 0))[0],
            end=kafka.watermarks.get((t, p), (0, 0))[1],
        )
        for t, p in keys
    ]
    status = PipelineStatus(group, now, partitions, database, kafka, thresholds)
    problems = [f"topic {t} does not exist" for t in kafka.missing_topics]
    problems += [d for part in partitions if (d := part.disagreement)]
    lag = sum(part.lag for part in partitions)
    if lag > thresholds.max_lag:
        problems.append(f"lag {lag} messages is above {thresholds.max_lag}")
    age = status.event_age_s
    if thresholds.max_event_age_s is not None and (age is None or age > thresholds.max_event_age_s):
        shown = "no event applied" if age is None else f"newest event is {age:.0f} s old"
        problems.append(f"{shown} (threshold {thresholds.max_event_age_s:.0f} s)")
    status.problems.extend(problems)
    return status

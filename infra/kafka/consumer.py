"""The consumer-group member the worker reads from: a thin wrapper over
confluent_kafka that speaks the consumer's plain types and raises
``InfrastructureError`` for broker trouble.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.batch import Offsets, RawMessage, SourcePosition
from consumer.errors import InfrastructureError
from consumer.ports import PartitionLedger, PartitionOwner
from infra.kafka.claims import PartitionClaims
from infra.kafka.client_log import with_client_log
from infra.kafka.contact import BrokerContactWatch

log = logging.getLogger(__name__)

#: Commit errors that mean "this member no longer owns the partition": the next
#: owner re-reads from the last committed offset, which is safe (idempotent).
_FENCED = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError._ASSIGNMENT_LOST,
    }
)
#: Bounds on what librdkafka pre-fetches (overridable with ``-X``). The defaults
#: (100k messages per partition, 64 MiB) let a consumer that is behind buffer
#: most of a topic in memory; a few batches ahead is enough to keep it busy.
PREFETCH_LIMITS: Mapping[str, Any] = {
    "queued.min.messages": 20_000,
    "queued.max.messages.kbytes": 16_384,
    "fetch.max.bytes": 8 * 1024 * 1024,
}
#: A member that stops heartbeating loses its partitions after this long (librdkafka's
#: default is 45 s, during which the dead member's partitions are read by nobody).
SESSION_TIMEOUT_MS = 15_000


def broker_error(error: KafkaException | KafkaError, what: str) -> InfrastructureError:
    """``InfrastructureError("broker", ...)`` for a confluent_kafka error."""
    detail = error.args[0] if isinstance(error, KafkaException) and error.args else error
    return InfrastructureError("broker", f"{what}: {detail}")


def position_of(message: Message) -> SourcePosition:
    """``topic[partition]@offset`` of a message that was read from a topic."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return SourcePosition(topic, partition, offset)


def headers_of(message: Message) -> tuple[tuple[str, bytes], ...]:
    """The message headers as ``(name, bytes)`` pairs (a null header value becomes b"")."""
    raw = message.headers() or ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v if isinstance(v, bytes) else (v or "").encode("utf-8")) for k, v in pairs)


def to_raw_message(message: Message) -> RawMessage:
    """A confluent_kafka message as the consumer's plain ``RawMessage``."""
    timestamp_type, timestamp = message.timestamp()
    return RawMessage(
        position=position_of(message),
        key=message.key(),
        value=message.value(),
        headers=headers_of(message),
        timestamp_ms=timestamp if timestamp_type else None,
    )


class KafkaMessageSource:
    """A consumer-group member with manual offset commits (``MessageSource``).

    With a ``ledger`` (the database), each newly assigned partition is claimed:
    its owner epoch goes up, so a member that lost it can no longer record offsets
    (``owners()``), and the partition starts at the database's offset when that is
    ahead of Kafka's committed one (a crash between the two commits) -- unless the
    record belongs to an earlier topic of the same name (a changed topic id, or an
    offset beyond the partition's end), which is then dropped with a warning and
    never used to skip. ``instance_id`` makes the member static (``group.instance.id``):
    restarted under the same id it gets its partitions back without a rebalance.
    """

    def __init__(
        self,
        client_config: Mapping[str, str],
        group_id: str,
        topics: Sequence[str],
        *,
        ledger: PartitionLedger | None = None,
        seek_to_database: bool = True,
        instance_id: str | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        config: dict[str, Any] = {
            **PREFETCH_LIMITS,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            **client_config,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "range",
        }
        if instance_id:
            config["group.instance.id"] = instance_id
        config.update(extra_config or {})
        self._contact = BrokerContactWatch(str(config.get("bootstrap.servers")), self._answers)
        config["error_cb"] = self._contact.on_error
        self._claims = (
            PartitionClaims(ledger, client_config, seek=seek_to_database) if ledger else None
        )
        self._joined = False
        self._before_revoke: Callable[[], object] | None = None
        try:
            self._consumer = Consumer(with_client_log(config))
            self._consumer.subscribe(
                list(topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        except KafkaException as error:
            raise broker_error(error, "subscribe") from error
        self._closed = False

    # -- rebalance callbacks (run inside poll_batch, on the loop's thread) -----------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        seeked: list[TopicPartition] = []
        if self._claims is not None and partitions:
            seeked = self._claims.claim(consumer, partitions)
        log.info("assigned %s", _names(partitions))
        consumer.assign(partitions)
        self._joined = True
        if seeked:
            # Kafka's committed offset follows the database's at once, so lag monitors
            # do not see the skipped-ahead messages as lag until the next batch commits
            try:
                consumer.commit(offsets=seeked, asynchronous=False)
            except KafkaException as error:
                log.warning("could not commit the database's offsets to Kafka: %s", error)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Callbacks run inside poll_batch, while the loop may have a batch in flight:
        # the hook finishes it and commits its offsets while they are still ours.
        if self._before_revoke is not None:
            self._before_revoke()
        self._forget(partitions)
        log.info("revoked %s", _names(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        log.warning("lost %s (session expired); the next owner re-reads", _names(partitions))

    def _forget(self, partitions: list[TopicPartition]) -> None:
        if self._claims is not None:
            self._claims.forget(partitions)

    # -- broker contact -----------------------------------------------------------------

    def _answers(self) -> bool:
        try:
            self._consumer.list_topics(timeout=2)
        except KafkaException:
            return False
        return True

    def unreachable(self) -> str | None:
        """Where no broker answers and why (``None``: contact, or no sign of trouble)."""
        return self._contact.unreachable()

    # -- GroupMember --------------------------------------------------------------------

    def joined(self) -> bool:
        """Whether an assignment (possibly empty) has been received since subscribing."""
        return self._joined

    def set_before_revoke(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` in the revoke callback, before the partitions are given up."""
        self._before_revoke = hook

    # -- FencedMember -------------------------------------------------------------------

    def owners(self) -> Mapping[tuple[str, int], PartitionOwner]:
        """The claimed owner epoch of each partition assigned now (empty without a ledger)."""
        return dict(self._claims.owners) if self._claims is not None else {}

    def rewind(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Seek the partitions still assigned back to ``offsets`` (others are skipped)."""
        try:
            assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        except KafkaException as error:
            raise broker_error(error, "rewind") from error
        for (topic, partition), offset in sorted(offsets.items()):
            if (topic, partition) not in assigned:
                continue
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as error:
                log.warning("could not rewind %s[%d] to %d: %s", topic, partition, offset, error)

    # -- MessageSource ------------------------------------------------------------------

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        try:
            messages = self._consumer.consume(num_messages=max_messages, timeout=timeout_s)
        except KafkaException as error:
            raise broker_error(error, "consume") from error
        self._contact.after_poll(bool(messages))
        batch: list[RawMessage] = []
        for message in messages:
            problem = message.error()
            if problem is None:
                batch.append(to_raw_message(message))
            elif problem.fatal():
                raise broker_error(problem, "consume (fatal)")
            elif problem.code() != KafkaError._PARTITION_EOF:
                log.warning("consume: %s", problem)
        return batch

    def commit(self, offsets: Offsets) -> None:
        if not offsets:
            return
        partitions = [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        try:
            results = self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as error:
            kafka_error = error.args[0] if error.args else None
            if isinstance(kafka_error, KafkaError) and kafka_error.code() in _FENCED:
                log.warning("offsets not committed (%s); they will be re-read", kafka_error)
                return
            raise broker_error(error, "commit") from error
        failed = [tp for tp in results or () if tp.error is not None]
        if failed:
            raise InfrastructureError(
                "broker",
                "commit: " + ", ".join(f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in failed),
            )

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages behind the high watermark per assigned partition (cached, no I/O)."""
        try:
            assigned = self._consumer.assignment()
            positions = self._consumer.position(assigned) if assigned else []
        except KafkaException:
            return {}
        lag: dict[tuple[str, int], int] = {}
        for tp in positions:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                lag[(tp.topic, tp.partition)] = max(0, high - tp.offset)
        return lag

    def close(self) -> None:
        """Leave the group (idempotent). Offsets are committed by the loop, never here."""
        if not self._closed:
            self._closed = True
            try:
                self._consumer.close()
            except KafkaException as error:
                log.warning("closing the consumer: %s", error)


def _names(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"

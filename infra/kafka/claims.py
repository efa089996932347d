"""Claiming newly assigned partitions in the database, and where each starts.

Runs inside the consumer's assign callback: each partition's owner epoch goes up
(so the member that held it before can no longer record offsets), and a partition
starts at the database's offset when that is ahead of Kafka's committed one -- unless
the database's record belongs to an earlier topic of the same name, which is dropped
with a warning (``consumer.offsets.start_decision``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient

from consumer.errors import InfrastructureError
from consumer.offsets import PartitionFacts, start_decision
from consumer.ports import PartitionClaim, PartitionLedger, PartitionOwner
from infra.kafka.client_log import with_client_log

log = logging.getLogger("infra.kafka.consumer")

#: How often a claim of newly assigned partitions is tried while the database is down,
#: before the member goes on without fencing (and says so).
_CLAIM_TRIES = 3
#: The longest an assignment waits for each kind of fact from Kafka (committed
#: offsets, partition ends, topic ids); what is not known by then is left unknown.
_FACTS_TIMEOUT_S = 5.0


class PartitionClaims:
    """The owner epochs this member holds, and the claim made on each assignment."""

    def __init__(
        self, ledger: PartitionLedger, client_config: Mapping[str, Any], *, seek: bool = True
    ) -> None:
        self._ledger = ledger
        self._client_config = dict(client_config)
        self._seek = seek
        self._admin: AdminClient | None = None
        self.owners: dict[tuple[str, int], PartitionOwner] = {}

    def forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.owners.pop((tp.topic, tp.partition), None)

    def claim(self, consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """Claim ``partitions`` and set where each starts (``tp.offset``); returns those
        moved to the database's offset."""
        keys = [(tp.topic, tp.partition) for tp in partitions]
        claims = self._claim_with_retries(keys)
        if claims is None:
            return []
        facts = self._partition_facts(consumer, partitions)
        stale: dict[tuple[str, int], str | None] = {}
        seeked: list[TopicPartition] = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            claim, fact = claims[key], facts[key]
            decision = start_decision(claim, fact)
            topic_id = fact.topic_id or claim.topic_id
            if decision.stale is not None:
                log.warning(
                    "%s[%d]: not starting at the database's offset %d: %s; reading from "
                    "Kafka's position instead (nothing is skipped; re-read events are "
                    "recognised as duplicates)",
                    *key,
                    claim.next_offset,
                    decision.stale,
                )
                stale[key] = topic_id = fact.topic_id
            elif decision.seek_to is not None and self._seek:
                log.info("%s[%d]: database is ahead, starting at %d", *key, decision.seek_to)
                tp.offset = decision.seek_to
                seeked.append(TopicPartition(tp.topic, tp.partition, decision.seek_to))
            self.owners[key] = PartitionOwner(claim.epoch, topic_id)
        if stale:
            try:
                self._ledger.reset(stale)
            except InfrastructureError as error:
                # the fenced offset update replaces the stale record's offset and topic id
                log.warning("could not reset stale offsets now: %s", error)
        return seeked

    def _claim_with_retries(
        self, keys: list[tuple[str, int]]
    ) -> Mapping[tuple[str, int], PartitionClaim] | None:
        for attempt in range(1, _CLAIM_TRIES + 1):
            try:
                return self._ledger.claim(keys)
            except InfrastructureError as error:
                if attempt == _CLAIM_TRIES:
                    log.warning(
                        "could not claim %d partitions in the database (%s): reading from "
                        "Kafka's offsets, without fencing against their previous owner",
                        len(keys),
                        error,
                    )
                    return None
                time.sleep(attempt)
        return None

    def _partition_facts(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], PartitionFacts]:
        """Committed offset, end and topic id of each partition (unknown ones negative /
        ``None``: the decision then rests on what is known)."""
        committed: dict[tuple[str, int], int] = {}
        try:
            for tp in consumer.committed(partitions, _FACTS_TIMEOUT_S):
                committed[(tp.topic, tp.partition)] = tp.offset
        except KafkaException as error:
            log.warning("could not read committed offsets on assign: %s", error)
        topic_ids = self._topic_ids(sorted({tp.topic for tp in partitions}))
        facts: dict[tuple[str, int], PartitionFacts] = {}
        budget = time.monotonic() + _FACTS_TIMEOUT_S
        for tp in partitions:
            end = -1  # unknown: a leader that does not answer must not hold up the group
            left = budget - time.monotonic()
            try:
                if left > 0:
                    _low, end = consumer.get_watermark_offsets(tp, timeout=min(left, 2.0))
            except KafkaException as error:
                log.warning("could not read the end of %s[%d]: %s", tp.topic, tp.partition, error)
            key = (tp.topic, tp.partition)
            facts[key] = PartitionFacts(committed.get(key, -1), end, topic_ids.get(tp.topic))
        return facts

    def _topic_ids(self, topics: list[str]) -> dict[str, str]:
        """Kafka topic ids (empty when the cluster cannot tell: older brokers, ACLs)."""
        try:
            if self._admin is None:
                self._admin = AdminClient({**with_client_log(self._client_config)})
            described = self._admin.describe_topics(
                TopicCollection(topics), request_timeout=_FACTS_TIMEOUT_S
            )
            return {
                topic: str(future.result(timeout=_FACTS_TIMEOUT_S).topic_id)
                for topic, future in described.items()
            }
        except Exception as error:  # any failure only means "ids unknown"; logged
            log.warning("could not read topic ids of %s: %s", ", ".join(topics), error)
            return {}

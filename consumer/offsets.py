"""Where a newly assigned partition starts, from the database's record and Kafka's.

The database records the next offset with every batch it applies, so it can be
ahead of Kafka's committed offset (a crash between the two commits): the worker
then starts at the database's offset. But a recorded offset can only be trusted
for the topic it was recorded on: if the topic was deleted and recreated (a new
cluster, a lost volume), its id changed or the record lies beyond the partition's
end, and starting there would silently skip the new topic's first messages.
Such a record is dropped and the partition is read from Kafka's own position
(re-reading is harmless: applying is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.ports import PartitionClaim


@dataclass(frozen=True, slots=True)
class PartitionFacts:
    """What Kafka says of an assigned partition.

    ``committed`` is the group's committed offset (negative: none); ``end`` the high
    watermark (negative: unknown); ``topic_id`` the topic's id (``None``: unknown).
    """

    committed: int
    end: int
    topic_id: str | None


@dataclass(frozen=True, slots=True)
class StartDecision:
    """``seek_to``: the offset to start at instead of Kafka's (``None``: Kafka's own);
    ``stale``: why the database's record does not belong to this topic (``None``: it does)."""

    seek_to: int | None = None
    stale: str | None = None


def start_decision(claim: PartitionClaim, facts: PartitionFacts) -> StartDecision:
    """Decide where a partition starts; a stale record is never used."""
    recorded = claim.next_offset
    if claim.topic_id and facts.topic_id and claim.topic_id != facts.topic_id:
        return StartDecision(
            stale=f"the topic was recreated (id {claim.topic_id} became {facts.topic_id})"
        )
    if facts.end >= 0 and recorded > facts.end:
        return StartDecision(
            stale=f"the recorded offset {recorded} lies beyond the partition's end {facts.end}"
        )
    if recorded > 0 and recorded > facts.committed:
        return StartDecision(seek_to=recorded)
    return StartDecision()

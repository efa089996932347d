"""When the next batch goes: as soon as the batch before it is applied (adaptive batching).

A batch goes when it is full, or -- with whatever has arrived by then -- as soon
as the batch before it has been applied, rather than after a fixed wait. Under a
steady stream the batch size follows the apply time, so an event waits about one
apply before its own starts; under a backlog every batch is full. With no batch
in flight, the poll returns as soon as the first messages arrive (or empty after
the batch wait, so the loop can check its stop rules).

While the batch before is applied, what arrives is taken in every
``GATHER_SLICE_S`` and decoded at once, overlapping that transaction. Each
partition's owner epoch is taken when its first message of the batch was read:
if the group moves a partition meanwhile, the batch is fenced in the database and
read again rather than recorded under an owner that is gone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from consumer.batch import DecodedBatch, RawMessage
from consumer.decode import decode_batch
from consumer.pipeline import BatchPipeline
from consumer.ports import FencedMember, MessageSource, PartitionOwner
from consumer.retry import Retrier

#: How often messages arriving during an apply are taken in and decoded: also the
#: most a batch can wait after the batch before it has been applied.
GATHER_SLICE_S = 0.01

Owners = Mapping[tuple[str, int], PartitionOwner]


@dataclass(frozen=True, slots=True)
class Gathered:
    """The next batch, decoded, and the owner epochs its partitions were read under."""

    batch: DecodedBatch
    owners: Owners = field(default_factory=dict)


def merged(parts: Sequence[DecodedBatch]) -> DecodedBatch:
    """One batch of ``parts`` read in this order (offsets: the span of all of them)."""
    if len(parts) == 1:
        return parts[0]
    next_offsets: dict[tuple[str, int], int] = {}
    first_offsets: dict[tuple[str, int], int] = {}
    for part in parts:
        for tp, offset in part.next_offsets.items():
            next_offsets[tp] = max(next_offsets.get(tp, offset), offset)
        for tp, offset in part.first_offsets.items():
            first_offsets[tp] = min(first_offsets.get(tp, offset), offset)
    return DecodedBatch(
        [event for part in parts for event in part.events],
        [rejected for part in parts for rejected in part.rejected],
        next_offsets,
        first_offsets,
    )


class Gatherer:
    """Reads the next batch from ``source`` while ``pipeline`` applies the one before."""

    def __init__(
        self,
        source: MessageSource,
        pipeline: BatchPipeline,
        retry: Retrier,
        batch_wait_s: float,
        *,
        slice_s: float = GATHER_SLICE_S,
    ) -> None:
        self._source = source
        self._pipeline = pipeline
        self._retry = retry
        self._batch_wait_s = batch_wait_s
        self._slice_s = slice_s
        self._owners_now: Callable[[], Owners] = lambda: {}
        if isinstance(source, FencedMember):
            self._owners_now = source.owners

    def next_batch(self, wanted: int) -> Gathered:
        """Up to ``wanted`` messages, decoded; empty when none arrived in the batch
        wait, or when the batch in flight was applied before any arrived (so the
        loop commits it at once)."""
        owners: dict[tuple[str, int], PartitionOwner] = {}
        if not self._pipeline.pending:
            part = self._read(wanted, self._batch_wait_s, owners)
            return Gathered(part, owners)
        parts: list[DecodedBatch] = []
        held = 0
        while held < wanted:
            applied = self._pipeline.wait(self._slice_s)
            part = self._read(wanted - held, 0.0, owners)
            if part.size:
                parts.append(part)
                held += part.size
            if applied:
                break
        return Gathered(merged(parts) if parts else DecodedBatch([], []), owners)

    def _read(
        self, wanted: int, timeout_s: float, owners: dict[tuple[str, int], PartitionOwner]
    ) -> DecodedBatch:
        messages: list[RawMessage] = self._retry(
            "poll", functools.partial(self._source.poll_batch, wanted, timeout_s)
        )
        if not messages:
            return DecodedBatch([], [])
        part = decode_batch(messages)
        now = self._owners_now()
        for tp in part.next_offsets:
            if tp not in owners and tp in now:
                owners[tp] = now[tp]
        return part

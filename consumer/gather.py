"""When the next batch goes: as soon as the batch before it is applied (adaptive batching).

A batch goes when it is full, or -- with whatever has arrived by then -- as soon
as the batch before it has been applied, rather than after a fixed wait. Under a
steady stream the batch size follows the apply time, so an event waits about one
apply before its own starts; under a backlog every batch is full. With no batch
in flight, one poll waits up to the batch wait to fill it.

While the batch before is applied, what arrives is taken in every
``GATHER_SLICE_S`` and decoded at once, overlapping that transaction. Each
partition's owner epoch is taken when its first message of the batch was read:
a revoke drops what is held (read again from the committed offsets), and a
partition lost meanwhile fences the batch in the database rather than recording
it under an owner that is gone.
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
        self.drop_held()

    def next_batch(self, wanted: int) -> Gathered:
        """Up to ``wanted`` messages, decoded; empty when none arrived in the batch
        wait, or when the batch in flight was applied before any arrived (so the
        loop commits it at once)."""
        self.drop_held()
        if not self._pipeline.pending:
            self._read(wanted, self._batch_wait_s)
        else:
            while self._held_size < wanted:
                applied = self._pipeline.wait(self._slice_s)
                self._read(wanted - self._held_size, 0.0)
                if applied:
                    break
        parts, owners = self._held, self._owners
        self.drop_held()
        return Gathered(merged(parts) if parts else DecodedBatch([], []), owners)

    def drop_held(self) -> None:
        """Forget the messages gathered so far: on a revoke, before the partitions are
        given up -- the next owner (this member again, perhaps) reads them from the
        committed offsets, so they are neither lost nor applied under an old epoch."""
        self._held: list[DecodedBatch] = []
        self._held_size = 0
        self._owners: dict[tuple[str, int], PartitionOwner] = {}

    def _read(self, wanted: int, timeout_s: float) -> None:
        messages: list[RawMessage] = self._retry(
            "poll", functools.partial(self._source.poll_batch, wanted, timeout_s)
        )
        if not messages:
            return
        part = decode_batch(messages)
        now = self._owners_now()
        for tp in part.next_offsets:
            if tp not in self._owners and tp in now:
                self._owners[tp] = now[tp]
        self._held.append(part)
        self._held_size += part.size

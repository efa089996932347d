"""Adaptive batching: a batch goes when the one before it has been applied, or full.

The batch in flight is a real transaction stand-in on a real thread, held until the
test lets it end, so "applied" is an event the test controls.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from consumer.accounting import RunAccounting
from consumer.batch import BatchOutcome, DecodedBatch, RawMessage, SourcePosition
from consumer.decode import decode_batch
from consumer.errors import PartitionFenced
from consumer.gather import Gatherer, merged
from consumer.metrics import ConsumerMetrics
from consumer.pipeline import BatchPipeline
from consumer.ports import PartitionOwner
from consumer.retry import Retrier
from domain.codec import encode_event
from tests.support.builders import created
from tests.support.fakes import FAST, FakeSink, FakeSource, Journal
from tests.support.fakes import message as raw_message


def one(offset: int) -> RawMessage:
    order_id = f"O-{offset}"
    return raw_message(offset, encode_event(created(order_id)), key=order_id.encode())


class TricklingSource(FakeSource):
    """One message per poll (a steady stream); the ``release_at``-th poll lets the
    batch in flight end."""

    def __init__(self, release: threading.Event, release_at: int) -> None:
        super().__init__([], Journal())
        self.release = release
        self.release_at = release_at
        self.polls: list[tuple[int, float]] = []

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        self.polls.append((max_messages, timeout_s))
        if len(self.polls) == self.release_at:
            self.release.set()
        return [one(len(self.polls))]


def pipeline_with_batch_in_flight(
    source: FakeSource, pool: ThreadPoolExecutor, release: threading.Event
) -> BatchPipeline:
    pipeline = BatchPipeline(
        source, FakeSink(Journal()), RunAccounting(ConsumerMetrics()), Retrier(FAST)
    )

    def held_transaction() -> BatchOutcome:
        release.wait(30)
        return BatchOutcome()

    pipeline.submit(pool, decode_batch([one(0)]), held_transaction)
    return pipeline


def test_the_next_batch_goes_as_soon_as_the_one_before_is_applied() -> None:
    release = threading.Event()
    source = TricklingSource(release, release_at=3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pipeline = pipeline_with_batch_in_flight(source, pool, release)
        gathered = Gatherer(source, pipeline, Retrier(FAST), 0.5, slice_s=0.05).next_batch(100)
        assert pipeline.wait(0)  # it went because the batch before was applied...
    # ...with what had arrived by then: three polls while it ran and one after, each
    # asking only for what the batch still lacked and never waiting for messages
    assert 4 <= gathered.batch.size < 100
    assert [wanted for wanted, _ in source.polls[:4]] == [100, 99, 98, 97]
    assert {timeout for _, timeout in source.polls} == {0.0}
    assert gathered.batch.next_offsets == {("t", 0): gathered.batch.size + 1}
    assert gathered.batch.first_offsets == {("t", 0): 1}


def test_a_full_batch_goes_without_waiting_for_the_one_before() -> None:
    release = threading.Event()
    source = TricklingSource(release, release_at=1000)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pipeline = pipeline_with_batch_in_flight(source, pool, release)
        gathered = Gatherer(source, pipeline, Retrier(FAST), 0.5, slice_s=0.001).next_batch(5)
        still_running = not pipeline.wait(0)
        release.set()
    assert still_running
    assert gathered.batch.size == 5
    assert [e.source.offset for e in gathered.batch.events if e.source] == [1, 2, 3, 4, 5]


def test_with_nothing_in_flight_one_poll_waits_up_to_the_batch_wait() -> None:
    source = TricklingSource(threading.Event(), release_at=1000)
    pipeline = BatchPipeline(
        source, FakeSink(Journal()), RunAccounting(ConsumerMetrics()), Retrier(FAST)
    )
    gathered = Gatherer(source, pipeline, Retrier(FAST), 0.25).next_batch(7)
    assert source.polls == [(7, 0.25)]
    assert gathered.batch.size == 1


def test_merged_parts_keep_their_order_and_span_their_offsets() -> None:
    a = decode_batch([one(5), raw_message(6, b"not json", key=b"O-6")])
    b = decode_batch([one(7), RawMessage(SourcePosition("u", 1, 40), b"O-9", b"{")])
    whole = merged([a, b, DecodedBatch([], [])])
    assert [e.source.offset for e in whole.events if e.source] == [5, 7]
    assert [r.message.position.offset for r in whole.rejected] == [6, 40]
    assert whole.next_offsets == {("t", 0): 8, ("u", 1): 41}
    assert whole.first_offsets == {("t", 0): 5, ("u", 1): 40}


class SeekingSource(FakeSource):
    """A fenced member that records where it is rewound to."""

    def __init__(self) -> None:
        super().__init__([], Journal())
        self.seeks: list[dict[tuple[str, int], int]] = []

    def owners(self) -> dict[tuple[str, int], PartitionOwner]:
        return {}

    def rewind(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self.seeks.append(dict(offsets))


def test_the_batch_after_a_fenced_one_does_not_skip_what_that_one_rewound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("consumer.pipeline.FENCED_PAUSE_S", 0.0)
    source = SeekingSource()
    pipeline = BatchPipeline(
        source, FakeSink(Journal()), RunAccounting(ConsumerMetrics()), Retrier(FAST)
    )

    def fenced() -> BatchOutcome:
        raise PartitionFenced([("t", 0)])

    with ThreadPoolExecutor(max_workers=1) as pool:
        pipeline.submit(pool, decode_batch([one(10), one(11)]), fenced)
        finished = pipeline.finish()
    # the next batch read on: the same partition further on, and another partition
    after = decode_batch([one(12), RawMessage(SourcePosition("u", 1, 40), b"O-40", b"{")])
    pipeline.rewind(after, rewound=finished.rewound)
    assert finished.fenced
    # t[0] stays at the fenced batch's first offset (10, not 12); u[1] goes back to 40
    assert source.seeks == [{("t", 0): 10}, {("u", 1): 40}]


def test_a_revoke_while_gathering_drops_what_was_read_before_it() -> None:
    release = threading.Event()
    source = TricklingSource(release, release_at=3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pipeline = pipeline_with_batch_in_flight(source, pool, release)
        gatherer = Gatherer(source, pipeline, Retrier(FAST), 0.5, slice_s=0.05)
        polls = source.poll_batch

        def revoking_on_the_second_poll(max_messages: int, timeout_s: float) -> list[RawMessage]:
            if len(source.polls) == 1:
                gatherer.drop_held()  # what the worker's revoke hook does, inside the poll
            return polls(max_messages, timeout_s)

        source.poll_batch = revoking_on_the_second_poll  # type: ignore[method-assign]
        gathered = gatherer.next_batch(100)
    # message 1 was read before the revoke: read again from the committed offsets
    assert [e.source.offset for e in gathered.batch.events if e.source][:2] == [2, 3]
    assert gathered.batch.first_offsets == {("t", 0): 2}

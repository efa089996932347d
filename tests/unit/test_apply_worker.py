"""The batch loop's order of effects, with in-memory stand-ins for broker and database."""

from __future__ import annotations

import pytest

from consumer.batch import RawMessage, SourcePosition
from consumer.decode import decode_batch
from consumer.dlq import REASON, SOURCE_OFFSET, DeadLetter, dead_letter_headers
from consumer.errors import InfrastructureError, RetriesAbandoned
from consumer.retry import Backoff, retry_call
from consumer.shutdown import StopFlag
from consumer.worker import Worker, WorkerConfig
from domain.codec import RejectReason, encode_event
from tests.support.builders import created
from tests.support.fakes import (
    FAST,
    FakeSink,
    FakeSource,
    Journal,
    JournalingUnitOfWork,
    message,
)


def make_worker(
    batches: list[list[RawMessage]], failures: int = 0, **cfg: object
) -> tuple[Worker, FakeSource, FakeSink, JournalingUnitOfWork]:
    journal = Journal()
    source, sink = FakeSource(batches, journal), FakeSink(journal)
    uow = JournalingUnitOfWork(journal, failures)
    config = WorkerConfig(consumer_group="g", until_idle_s=0.01, backoff=FAST, **cfg)  # type: ignore[arg-type]
    return Worker(source, lambda: uow, sink, config), source, sink, uow


def test_dead_letters_then_database_then_offsets() -> None:
    good = message(0, encode_event(created()))
    bad = message(1, b"{not json")
    worker, source, sink, uow = make_worker([[good, bad]])
    summary = worker.run()
    assert source.journal == ["dead-letter", "db-commit", "commit"]
    assert source.commits == [{("t", 0): 2}]
    assert uow.orders.offsets == {("g", "t", 0): 2}
    assert [r.reason for r in sink.letters] == [RejectReason.INVALID_JSON]
    assert summary.dead_lettered == 1 and summary.outcome.applied == 1 and source.closed


def test_a_database_outage_is_retried_before_any_commit() -> None:
    worker, source, sink, _ = make_worker([[message(0, encode_event(created()))]], failures=3)
    worker.run()
    assert source.journal == ["db-commit", "commit"]
    assert sink.letters == []


def test_a_failed_offset_commit_is_retried() -> None:
    worker, source, _, _ = make_worker([[message(0, encode_event(created()))]])
    source.fail_commits = 2
    worker.run()
    assert source.commits == [{("t", 0): 1}]


def test_max_events_bounds_the_run() -> None:
    batches = [
        [message(i, encode_event(created(f"O-{i}")), key=f"O-{i}".encode())] for i in range(5)
    ]
    worker, *_ = make_worker(batches, max_events=2)
    assert worker.run().consumed == 2


def test_decode_checks_the_key_and_tracks_next_offsets() -> None:
    event = created()
    batch = decode_batch(
        [
            message(4, encode_event(event)),
            message(7, encode_event(event), key=b"OTHER"),
            message(5, b"", key=None),
        ]
    )
    assert [r.reason for r in batch.rejected] == [
        RejectReason.KEY_MISMATCH,
        RejectReason.INVALID_JSON,
    ]
    assert batch.next_offsets == {("t", 0): 8}


def test_a_missing_key_is_its_own_reason() -> None:
    batch = decode_batch([message(0, encode_event(created()), key=None)])
    assert batch.rejected[0].reason is RejectReason.MISSING_KEY


def test_dead_letter_headers_keep_the_original_and_parse_back() -> None:
    reject = decode_batch([message(9, b"[]")]).rejected[0]
    headers = dead_letter_headers(reject)
    assert headers[0] == ("trace", b"x")
    assert (REASON, b"not_an_object") in headers and (SOURCE_OFFSET, b"9") in headers
    letter = DeadLetter.parse(SourcePosition("dlq", 0, 0), b"ORD-1", b"[]", headers)
    assert letter.reason == "not_an_object" and letter.source == SourcePosition("t", 0, 9)
    assert letter.original_headers == [("trace", b"x")]


def test_retry_gives_up_only_when_a_stop_is_requested() -> None:
    stop = StopFlag()
    calls = []

    def failing() -> None:
        calls.append(1)
        if len(calls) == 3:
            stop.request("test")
        raise InfrastructureError("database", "down")

    with pytest.raises(RetriesAbandoned):
        retry_call(failing, what="apply", backoff=FAST, should_stop=lambda: stop.requested)
    assert len(calls) == 3


def test_backoff_is_capped() -> None:
    assert all(Backoff(base_s=1, cap_s=5).delay(n) <= 5 for n in range(100))

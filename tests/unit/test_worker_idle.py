"""When a bounded run ends: idle time counts from the first assignment, and the
pipelined loop still commits each batch's offsets after its transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from consumer.batch import Offsets, RawMessage
from consumer.worker import Worker, WorkerConfig
from domain.codec import encode_event
from tests.support.builders import created
from tests.support.fakes import FAST, FakeSink, FakeSource, Journal, JournalingUnitOfWork
from tests.support.fakes import message as raw_message


class SlowJoiningSource(FakeSource):
    """A group member that is assigned its partitions only ``join_s`` after it starts."""

    def __init__(self, batches: list[list[RawMessage]], journal: Journal, join_s: float) -> None:
        super().__init__(batches, journal)
        self.created = time.monotonic()
        self.join_s = join_s
        self.hook: Callable[[], object] | None = None
        self.revoke_after_polls: int | None = None
        self.polls = 0

    def joined(self) -> bool:
        return time.monotonic() - self.created >= self.join_s

    def set_before_revoke(self, hook: Callable[[], object]) -> None:
        self.hook = hook

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        self.polls += 1
        if self.polls == self.revoke_after_polls and self.hook is not None:
            self.hook()
            self.journal.append("revoked")
        time.sleep(0.005)
        if not self.joined():
            return []
        return super().poll_batch(max_messages, timeout_s)

    def lag(self) -> Mapping[tuple[str, int], int]:
        return {}

    def commit(self, offsets: Offsets) -> None:
        super().commit(offsets)


def run(
    source: SlowJoiningSource, until_idle_s: float, join_allowance_s: float = 5.0
) -> tuple[str, float, JournalingUnitOfWork]:
    uow = JournalingUnitOfWork(source.journal)
    config = WorkerConfig(
        "g", until_idle_s=until_idle_s, join_allowance_s=join_allowance_s, backoff=FAST
    )
    worker = Worker(source, lambda: uow, FakeSink(source.journal), config)
    started = time.monotonic()
    summary = worker.run()
    return summary.stopped_by, time.monotonic() - started, uow


def batch(offset: int, order_id: str) -> list[RawMessage]:
    return [raw_message(offset, encode_event(created(order_id)), key=order_id.encode())]


def test_a_slow_group_join_is_not_idle_time() -> None:
    source = SlowJoiningSource([batch(0, "O-1")], Journal(), join_s=0.3)
    stopped_by, elapsed, uow = run(source, until_idle_s=0.1)
    assert stopped_by == "idle for 0.1s"
    assert elapsed >= 0.4  # join (0.3) + idle (0.1): the batch was not missed
    assert uow.orders.offsets == {("g", "t", 0): 1}


def test_a_member_never_assigned_still_stops_in_bounded_time() -> None:
    source = SlowJoiningSource([], Journal(), join_s=3600)
    stopped_by, elapsed, _ = run(source, until_idle_s=0.05, join_allowance_s=0.1)
    assert stopped_by.startswith("no assignment within")
    assert 0.15 <= elapsed < 2


def test_each_batch_commits_its_offsets_after_its_transaction() -> None:
    source = SlowJoiningSource([batch(0, "O-1"), batch(1, "O-2")], Journal(), join_s=0)
    run(source, until_idle_s=0.05)
    assert source.journal == ["db-commit", "commit", "db-commit", "commit"]
    assert source.commits == [{("t", 0): 1}, {("t", 0): 2}]


def test_a_revoke_first_finishes_and_commits_the_batch_in_flight() -> None:
    source = SlowJoiningSource([batch(0, "O-1")], Journal(), join_s=0)
    source.revoke_after_polls = 2  # the poll after the batch was handed to the database
    run(source, until_idle_s=0.05)
    assert source.journal == ["db-commit", "commit", "revoked"]

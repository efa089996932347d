"""When a bounded run ends: idle time counts from the first assignment, and the
pipelined loop still commits each batch's offsets after its transaction.

Time here is a fake clock that each poll moves on by ``POLL_S``, so the rules are
checked exactly and without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from consumer.batch import Offsets, RawMessage
from consumer.idle import NO_CONTACT, UNREACHABLE_ALLOWANCE_S
from consumer.worker import Worker, WorkerConfig
from domain.codec import encode_event
from tests.support.builders import created
from tests.support.fakes import FAST, FakeSink, FakeSource, Journal, JournalingUnitOfWork
from tests.support.fakes import message as raw_message

#: How far the fake clock moves on per poll (a poll that waited for messages).
POLL_S = 0.005


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowJoiningSource(FakeSource):
    """A group member that is assigned its partitions only ``join_s`` after it starts."""

    def __init__(
        self,
        batches: list[list[RawMessage]],
        journal: Journal,
        join_s: float,
        step_s: float = POLL_S,
    ) -> None:
        super().__init__(batches, journal)
        self.clock = FakeClock()
        self.created = self.clock.now
        self.join_s = join_s
        self.step_s = step_s
        self.hook: Callable[[], object] | None = None
        self.revoke_after_polls: int | None = None
        self.polls = 0
        self.problem: str | None = None

    def joined(self) -> bool:
        return self.clock.now - self.created >= self.join_s

    def unreachable(self) -> str | None:
        return self.problem

    def set_before_revoke(self, hook: Callable[[], object]) -> None:
        self.hook = hook

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        self.polls += 1
        if self.polls == self.revoke_after_polls and self.hook is not None:
            self.hook()
            self.journal.append("revoked")
        self.clock.now += self.step_s
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
    """The run's ``stopped_by``, how long it took on the fake clock, and its database."""
    uow = JournalingUnitOfWork(source.journal)
    config = WorkerConfig(
        "g", until_idle_s=until_idle_s, join_allowance_s=join_allowance_s, backoff=FAST
    )
    worker = Worker(source, lambda: uow, FakeSink(source.journal), config, clock=source.clock)
    started = source.clock.now
    summary = worker.run()
    return summary.stopped_by, source.clock.now - started, uow


def batch(offset: int, order_id: str) -> list[RawMessage]:
    return [raw_message(offset, encode_event(created(order_id)), key=order_id.encode())]


def test_a_slow_group_join_is_not_idle_time() -> None:
    source = SlowJoiningSource([batch(0, "O-1")], Journal(), join_s=0.3)
    stopped_by, elapsed, uow = run(source, until_idle_s=0.1)
    assert stopped_by == "idle for 0.1s"
    # join (0.3) + idle (0.1) from the poll that committed the batch: the batch was not missed
    assert 0.4 <= elapsed <= 0.4 + 4 * POLL_S
    assert uow.orders.offsets == {("g", "t", 0): 1}


def test_idle_time_starts_again_after_each_batch() -> None:
    # three empty polls between the batches: longer than the limit counted from the
    # first poll, shorter counted from the commit of the first batch
    batches = [batch(0, "O-1"), [], [], [], batch(1, "O-2")]
    source = SlowJoiningSource(batches, Journal(), join_s=0)
    stopped_by, _, uow = run(source, until_idle_s=2.5 * POLL_S)
    assert stopped_by == f"idle for {2.5 * POLL_S:g}s"
    assert uow.orders.offsets == {("g", "t", 0): 2}


def test_a_member_never_assigned_still_stops_in_bounded_time() -> None:
    source = SlowJoiningSource([], Journal(), join_s=3600)
    stopped_by, elapsed, _ = run(source, until_idle_s=0.05, join_allowance_s=0.1)
    assert stopped_by == "no assignment within 0.15s"
    assert 0.15 <= elapsed <= 0.15 + POLL_S + 1e-9


def test_a_member_without_broker_contact_stops_after_the_allowance() -> None:
    source = SlowJoiningSource([], Journal(), join_s=3600, step_s=0.5)
    source.problem = "127.0.0.1:1"
    stopped_by, elapsed, _ = run(source, until_idle_s=1, join_allowance_s=3600)
    assert stopped_by == f"{NO_CONTACT} at 127.0.0.1:1"
    assert 1 + UNREACHABLE_ALLOWANCE_S <= elapsed <= 1 + UNREACHABLE_ALLOWANCE_S + 0.5


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

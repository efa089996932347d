"""In-memory stand-ins for the consumer's ports: repository, unit of work, source, sink."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Self

from consumer.batch import Offsets, RawMessage, ReceivedEvent, Rejected, SourcePosition
from consumer.errors import InfrastructureError, PartitionFenced
from consumer.ports import OrderHead, PartitionClaim, PartitionOwner, SaleState, Verdicts
from consumer.retry import Backoff
from domain.codec import encode_event
from domain.events import Event
from domain.order import OrderSummary, judge_transitions, merge


class FakeRepository:
    """The repository contract in memory, built on the domain fold."""

    def __init__(self) -> None:
        self.history: dict[str, Event] = {}
        self.sales: dict[str, OrderSummary] = {}
        self.legal: dict[str, bool | None] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.epochs: dict[tuple[str, str, int], int] = {}
        self.upserts = 0
        self.rejudged: set[str] = set()

    def read_heads(self, order_ids: Collection[str]) -> dict[str, OrderHead]:
        return {
            o: OrderHead(s.status, s.status_precedence, s.event_count)
            for o, s in self.sales.items()
            if o in order_ids
        }

    def append_history(
        self, events: Mapping[str, ReceivedEvent], verdicts: Verdicts | None = None
    ) -> list[ReceivedEvent]:
        new: list[ReceivedEvent] = []
        for key, r in events.items():
            assert key == str(r.event.event_id)
            if key not in self.history:
                self.history[key] = r.event
                self.legal[key] = (verdicts or {}).get(key)
                new.append(r)
        return new

    def upsert_sales(
        self, summaries: Sequence[OrderSummary], illegal: Mapping[str, int] | None = None
    ) -> list[SaleState]:
        self.upserts += 1
        states = []
        for s in summaries:
            current = self.sales.get(s.order_id)
            row = s if current is None else merge(current, s)
            self.sales[s.order_id] = row
            states.append(
                SaleState(
                    s.order_id, str(row.status_event_id), row.awaiting_creation, row.event_count
                )
            )
        return states

    def rejudge(self, order_ids: Collection[str]) -> int:
        self.rejudged |= set(order_ids)
        illegal = 0
        for order_id in order_ids:
            events = [e for e in self.history.values() if e.order_id == order_id]
            for event_id, verdict in judge_transitions(events).items():
                if self.legal.get(str(event_id)) != verdict:
                    self.legal[str(event_id)] = verdict
                    illegal += verdict is False
        return illegal

    def read_payloads(self, event_ids: Collection[str]) -> dict[str, str]:
        return {k: encode_event(self.history[k]).decode() for k in event_ids if k in self.history}

    def record_offsets(
        self,
        consumer_group: str,
        offsets: Offsets,
        owners: Mapping[tuple[str, int], PartitionOwner] | None = None,
    ) -> None:
        fenced = [
            tp
            for tp, owner in (owners or {}).items()
            if tp in offsets and self.epochs.get((consumer_group, *tp), 0) != owner.epoch
        ]
        if fenced:
            raise PartitionFenced(fenced)
        for (topic, partition), offset in offsets.items():
            key = (consumer_group, topic, partition)
            self.offsets[key] = max(offset, self.offsets.get(key, 0))

    def claim_partitions(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], PartitionClaim]:
        claims = {}
        for topic, partition in partitions:
            key = (consumer_group, topic, partition)
            self.epochs[key] = self.epochs.get(key, 0) + 1
            claims[(topic, partition)] = PartitionClaim(
                self.epochs[key], self.offsets.get(key, 0), None
            )
        return claims

    def reset_offsets(
        self, consumer_group: str, partitions: Mapping[tuple[str, int], str | None]
    ) -> None:
        for topic, partition in partitions:
            self.offsets[(consumer_group, topic, partition)] = 0

    def read_offsets(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        return {
            (t, p): o
            for (g, t, p), o in self.offsets.items()
            if g == consumer_group and (t, p) in partitions
        }


class FakeUnitOfWork:
    def __init__(self, orders: FakeRepository | None = None) -> None:
        self.orders = orders or FakeRepository()
        self.committed = False
        self.rolled_back = False

    def __enter__(self) -> Self:
        self.committed = self.rolled_back = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.rolled_back = True

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        self.rolled_back = True


FAST = Backoff(base_s=0.001, cap_s=0.002)


def message(offset: int, value: bytes, key: bytes | None = b"ORD-1") -> RawMessage:
    return RawMessage(SourcePosition("t", 0, offset), key, value, headers=[("trace", b"x")])


class Journal(list[str]):
    pass


class FakeSource:
    def __init__(self, batches: list[list[RawMessage]], journal: Journal) -> None:
        self.batches = batches
        self.journal = journal
        self.commits: list[Offsets] = []
        self.fail_commits = 0
        self.closed = False

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: Offsets) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise InfrastructureError("broker", "coordinator unavailable")
        self.journal.append("commit")
        self.commits.append(dict(offsets))

    def lag(self) -> Mapping[tuple[str, int], int]:
        return {("t", 0): 0}

    def close(self) -> None:
        self.closed = True


class FakeSink:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.letters: list[Rejected] = []

    def publish(self, rejected: Sequence[Rejected]) -> None:
        self.journal.append("dead-letter")
        self.letters.extend(rejected)


class JournalingUnitOfWork(FakeUnitOfWork):
    def __init__(self, journal: Journal, failures: int = 0) -> None:
        super().__init__()
        self.journal = journal
        self.failures = failures

    def commit(self) -> None:
        if self.failures:
            self.failures -= 1
            raise InfrastructureError("database", "connection refused")
        self.journal.append("db-commit")
        super().commit()

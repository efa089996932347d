"""What the apply path needs from storage, as protocols (implemented in ``infra.db``).

The unit of work is a context manager that rolls back unless ``commit()`` is
called; the repository behind it does set-based writes (no per-event round trip).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from consumer.batch import Offsets, ReceivedEvent
from domain.order import OrderSummary


@dataclass(frozen=True, slots=True)
class SaleState:
    """An order's row right after an upsert: enough to count stale and orphaned events."""

    order_id: str
    status_event_id: str
    awaiting_creation: bool


class OrderRepository(Protocol):
    """``order_history``, ``sales`` and ``consumer_offsets`` inside one transaction."""

    def append_history(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        """Append events whose ``event_id`` is new; return exactly those (in input order)."""
        ...

    def upsert_sales(self, summaries: Sequence[OrderSummary]) -> list[SaleState]:
        """Merge one summary per order into ``sales``, moving forward in event time only."""
        ...

    def rejudge(self, order_ids: Collection[str]) -> int:
        """Recompute ``legal`` of these orders' history and their ``illegal_transitions``.

        Returns how many history rows were newly judged illegal.
        """
        ...

    def record_offsets(self, consumer_group: str, offsets: Offsets) -> None:
        """Remember the next offset per partition (never moves backwards)."""
        ...

    def read_offsets(
        self, consumer_group: str, partitions: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The recorded next offsets of ``partitions`` (missing ones are left out)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving it without ``commit()`` rolls back.

    Raises ``consumer.errors.InfrastructureError`` when the database is unreachable.
    """

    @property
    def orders(self) -> OrderRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

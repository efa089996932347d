"""Apply a batch of valid events: history first, then the state it drives.

Every change to ``sales`` comes from events newly appended to ``order_history``
in the same transaction, so a batch of duplicates changes nothing and the final
database does not depend on arrival order or batch boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer.batch import BatchOutcome, Offsets, ReceivedEvent
from consumer.ports import OrderRepository, UnitOfWork
from domain.events import StatusChanged
from domain.order import fold


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Offsets to record in the same transaction as the batch they cover."""

    consumer_group: str
    offsets: Offsets


def apply_batch(
    events: Sequence[ReceivedEvent], uow: UnitOfWork, *, checkpoint: Checkpoint | None = None
) -> BatchOutcome:
    """Apply ``events`` (and record ``checkpoint``) in one transaction and commit it.

    Nothing is written if anything fails; ``InfrastructureError`` from the unit
    of work means the same batch can simply be applied again later.
    """
    with uow:
        outcome = apply_events(events, uow.orders)
        if checkpoint is not None and checkpoint.offsets:
            uow.orders.record_offsets(checkpoint.consumer_group, checkpoint.offsets)
        uow.commit()
    return outcome


def apply_events(events: Sequence[ReceivedEvent], orders: OrderRepository) -> BatchOutcome:
    """The apply path inside an open transaction (does not commit)."""
    if not events:
        return BatchOutcome()
    appended = orders.append_history(events)
    if not appended:
        return BatchOutcome(received=len(events), duplicates=len(events))
    summaries = fold(received.event for received in appended)
    states = orders.upsert_sales(list(summaries.values()))
    illegal = orders.rejudge(summaries.keys())
    stale = 0
    orphaned = 0
    for state in states:
        summary = summaries[state.order_id]
        # the row already held a later status: none of this batch's events took effect
        if state.status_event_id != str(summary.status_event_id):
            stale += summary.event_count
    awaiting = {state.order_id for state in states if state.awaiting_creation}
    orphaned = sum(
        1
        for received in appended
        if isinstance(received.event, StatusChanged) and received.event.order_id in awaiting
    )
    return BatchOutcome(
        received=len(events),
        applied=len(appended),
        duplicates=len(events) - len(appended),
        stale=stale,
        orphaned=orphaned,
        illegal=illegal,
        orders_touched=len(summaries),
    )

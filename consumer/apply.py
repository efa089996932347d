"""Apply a batch of valid events: history first, then the state it drives.

Every change to ``sales`` comes from events newly appended to ``order_history``
in the same transaction, so a batch of duplicates changes nothing and the final
database does not depend on arrival order or batch boundaries.

Legality is judged on arrival, in Python: an order's new events that all come
after its current latest event (the usual case) continue from that event's
status, and nothing already stored changes. Only orders where a new event lands
before a stored one -- or whose row another transaction changed since its head
was read -- have their whole history re-judged in the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import itemgetter

from consumer.batch import BatchOutcome, Conflict, Offsets, ReceivedEvent
from consumer.ports import OrderHead, OrderRepository, PartitionOwner, UnitOfWork
from domain.codec import EventDecodeError, decode_event
from domain.events import Event, OrderCreated, StatusChanged, event_status
from domain.lifecycle import INITIAL_STATUS, RANK, OrderStatus, is_legal
from domain.order import MILESTONES, OrderFacts, OrderSummary, Precedence, fold


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Offsets to record in the same transaction as the batch they cover, under the
    owner epochs the batch was read with (``owners``; partitions without one are
    recorded unfenced)."""

    consumer_group: str
    offsets: Offsets
    owners: Mapping[tuple[str, int], PartitionOwner] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Judgement:
    """Verdicts (and illegal counts per order) for the events of orders judged on
    arrival; the orders in ``rejudge`` need their whole history re-judged."""

    verdicts: dict[str, bool | None]
    illegal: dict[str, int]
    rejudge: set[str]


#: an order's batch events in precedence order: (precedence, status, event)
Ranked = list[tuple[Precedence, OrderStatus, ReceivedEvent]]


@dataclass(frozen=True, slots=True)
class PreparedEvents:
    """A batch's events made ready without the database, so off its thread: distinct
    by event id text, each order's in precedence order, and each order's summary as
    if every event is new (the usual case). Read-only once made: a retried
    transaction applies the same value again."""

    received: int
    unique: dict[str, ReceivedEvent]
    by_order: dict[str, Ranked]
    summaries: dict[str, OrderSummary]
    #: the second and later copies of an event id in the batch
    copies: tuple[ReceivedEvent, ...] = ()


def prepare(events: Sequence[ReceivedEvent]) -> PreparedEvents:
    """The database-free part of :func:`apply_events` for ``events``."""
    unique: dict[str, ReceivedEvent] = {}
    copies: list[ReceivedEvent] = []
    for received in events:
        if unique.setdefault(str(received.event.event_id), received) is not received:
            copies.append(received)
    by_order = rank_by_order(unique)
    summaries = {o: summarize_ranked(o, ranked) for o, ranked in by_order.items()}
    return PreparedEvents(len(events), unique, by_order, summaries, tuple(copies))


def find_conflicts(
    prepared: PreparedEvents, appended: Sequence[ReceivedEvent], orders: OrderRepository
) -> list[Conflict]:
    """The events of the batch whose id belongs to an event with other content: the one
    in history, or for an id new to history, the batch's first copy (the one applied).

    The same event serialized differently (another offset for the same instant, say)
    is the same content: a quiet duplicate.
    """
    if len(appended) == len(prepared.unique) and not prepared.copies:
        return []  # the usual case: no id seen twice
    new = {str(received.event.event_id) for received in appended}
    known = [key for key in prepared.unique if key not in new]
    stored = orders.read_payloads(known) if known else {}
    kept: dict[str, Event] = {}
    for key, payload in stored.items():
        try:
            kept[key] = decode_event(payload.encode("utf-8"))
        except EventDecodeError:
            continue  # stored under older rules: every copy of it is judged a conflict
    conflicts: list[Conflict] = []
    for key in known:
        received = prepared.unique[key]
        if key in stored and kept.get(key) != received.event:
            conflicts.append(Conflict(received, _conflict_detail(key, "in history")))
    for received in prepared.copies:
        key = str(received.event.event_id)
        if key in stored:
            if kept.get(key) != received.event:
                conflicts.append(Conflict(received, _conflict_detail(key, "in history")))
        elif received.event != prepared.unique[key].event:
            first = prepared.unique[key].source
            where = f"read at {first}" if first else "earlier in the batch"
            conflicts.append(Conflict(received, _conflict_detail(key, where)))
    return conflicts


def _conflict_detail(event_id: str, where: str) -> str:
    return f"event_id {event_id} is already taken by an event with other content ({where})"


#: A step run inside the batch's transaction after its events are applied (the SLA
#: alerts, ``consumer.alerts``); returns how many alerts it recorded.
AfterApply = Callable[[UnitOfWork, PreparedEvents, BatchOutcome], int]


def apply_batch(
    events: Sequence[ReceivedEvent] | PreparedEvents,
    uow: UnitOfWork,
    *,
    checkpoint: Checkpoint | None = None,
    after_apply: AfterApply | None = None,
) -> BatchOutcome:
    """Apply ``events`` (then ``after_apply``, and record ``checkpoint``) in one
    transaction and commit it.

    Nothing is written if anything fails; ``InfrastructureError`` from the unit
    of work means the same batch can simply be applied again later.
    """
    prepared = events if isinstance(events, PreparedEvents) else prepare(events)
    with uow:
        outcome = apply_events(prepared, uow.orders)
        if after_apply is not None and outcome.applied:
            outcome = replace(outcome, alerts=after_apply(uow, prepared, outcome))
        if checkpoint is not None and checkpoint.offsets:
            uow.orders.record_offsets(
                checkpoint.consumer_group, checkpoint.offsets, checkpoint.owners or None
            )
        uow.commit()
    return outcome


def rank_by_order(events: Mapping[str, ReceivedEvent]) -> dict[str, Ranked]:
    """Each order's events (``events`` by event id, so distinct) in precedence order."""
    by_order: dict[str, Ranked] = defaultdict(list)
    for key, received in events.items():
        event = received.event
        status = event_status(event)
        # domain.order.precedence, with the id text made once
        by_order[event.order_id].append(((event.occurred_at, RANK[status], key), status, received))
    for ranked in by_order.values():
        ranked.sort(key=itemgetter(0))
    return by_order


def judge_arrivals(by_order: Mapping[str, Ranked], heads: Mapping[str, OrderHead]) -> Judgement:
    """Judge each order's batch events as moves following its stored head.

    An order qualifies when every one of its batch events comes after the head
    in precedence (a stored event never does, so they are all new); its verdicts
    are then final. Any other order goes to ``rejudge``.
    """
    verdicts: dict[str, bool | None] = {}
    illegal: dict[str, int] = {}
    rejudge: set[str] = set()
    for order_id, ranked in by_order.items():
        head = heads.get(order_id)
        if head is not None and ranked[0][0] <= head.precedence:
            rejudge.add(order_id)
            continue
        previous: OrderStatus | None = head.status if head is not None else None
        count = 0
        for (_, _, key), status, _ in ranked:
            # as domain.order.judge_transitions: no earlier event and not a creation
            if previous is None and status is not INITIAL_STATUS:
                verdicts[key] = None
            else:
                verdict = verdicts[key] = is_legal(previous, status)
                count += not verdict
            previous = status
        if count:
            illegal[order_id] = count
    return Judgement(verdicts, illegal, rejudge)


def summarize_ranked(order_id: str, ranked: Ranked) -> OrderSummary:
    """``domain.order.fold`` of one order's distinct events, from their precedence order.

    The latest event sets the status; the first of each milestone status is its
    earliest time; the first creation (creations share a rank) is the earliest.
    """
    facts: OrderFacts | None = None
    milestones: dict[OrderStatus, datetime] = {}
    failed = 0
    for _, status, received in ranked:
        event = received.event
        if facts is None and isinstance(event, OrderCreated):
            facts = OrderFacts.from_event(event)
        if status in MILESTONES and status not in milestones:
            milestones[status] = event.occurred_at
        failed += status is OrderStatus.DELIVERY_FAILED
    (status_at, _, _), status, latest = ranked[-1]
    return OrderSummary(
        order_id=order_id,
        facts=facts,
        status=status,
        status_at=status_at,
        status_event_id=latest.event.event_id,
        milestones=milestones,
        failed_attempts=failed,
        event_count=len(ranked),
    )


def apply_events(
    events: Sequence[ReceivedEvent] | PreparedEvents, orders: OrderRepository
) -> BatchOutcome:
    """The apply path inside an open transaction (does not commit)."""
    prepared = events if isinstance(events, PreparedEvents) else prepare(events)
    if not prepared.received:
        return BatchOutcome()
    received_count, unique, by_order = prepared.received, prepared.unique, prepared.by_order
    heads = orders.read_heads(by_order.keys())
    judged = judge_arrivals(by_order, heads)
    appended = orders.append_history(unique, judged.verdicts)
    conflicts = find_conflicts(prepared, appended, orders)
    if not appended:
        return BatchOutcome(
            received=received_count,
            duplicates=received_count - len(conflicts),
            conflicting=len(conflicts),
            conflicts=tuple(conflicts),
        )
    if len(appended) == len(unique):  # the usual case: every event is new
        summaries = prepared.summaries
    else:
        summaries = fold(received.event for received in appended)
    states = orders.upsert_sales(list(summaries.values()), judged.illegal)
    rejudge = judged.rejudge & summaries.keys()
    stale = 0
    for state in states:
        summary = summaries[state.order_id]
        # the row already held a later status: none of this batch's events took effect
        if state.status_event_id != str(summary.status_event_id):
            stale += summary.event_count
        head = heads.get(state.order_id)
        if state.event_count != summary.event_count + (head.event_count if head else 0):
            # another transaction folded events into this order since its head was
            # read: the verdicts judged on arrival may miss them
            rejudge.add(state.order_id)
    illegal = sum(judged.illegal.values()) + orders.rejudge(rejudge)
    awaiting = {state.order_id for state in states if state.awaiting_creation}
    orphaned = sum(
        1
        for received in appended
        if isinstance(received.event, StatusChanged) and received.event.order_id in awaiting
    )
    return BatchOutcome(
        received=received_count,
        applied=len(appended),
        duplicates=received_count - len(appended) - len(conflicts),
        stale=stale,
        orphaned=orphaned,
        illegal=illegal,
        orders_touched=len(summaries),
        conflicting=len(conflicts),
        conflicts=tuple(conflicts),
    )

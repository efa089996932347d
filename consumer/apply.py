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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter

from consumer.batch import BatchOutcome, Conflict, Offsets, ReceivedEvent
from consumer.ports import OrderHead, OrderRepository, PartitionOwner, SaleState, UnitOfWork
from domain.codec import EventDecodeError, decode_event
from domain.events import Event, StatusChanged
from domain.order import OrderSummary
from domain.ranked import RankedEvents, fold_ranked, judge_ranked, rank_by_order


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


@dataclass(frozen=True, slots=True)
class PreparedEvents:
    """A batch's events made ready without the database, so off its thread: distinct
    by event id text (``unique``), each order's in precedence order (``by_order``),
    and each order's fold of them as if every event is new (``folded``, the usual
    case). Read-only once made: a retried transaction applies the same value again."""

    received: int
    unique: dict[str, ReceivedEvent]
    by_order: dict[str, RankedEvents]
    folded: dict[str, OrderSummary]
    #: the second and later copies of an event id in the batch
    copies: tuple[ReceivedEvent, ...] = ()


_event_of = attrgetter("event")


def prepare(events: Sequence[ReceivedEvent]) -> PreparedEvents:
    """The database-free part of :func:`apply_events` for ``events``."""
    unique: dict[str, ReceivedEvent] = {}
    copies: list[ReceivedEvent] = []
    for received in events:
        if unique.setdefault(received.id_text, received) is not received:
            copies.append(received)
    by_order = rank_by_order(zip(unique, map(_event_of, unique.values()), strict=True))
    folded = {o: fold_ranked(o, ranked) for o, ranked in by_order.items()}
    return PreparedEvents(len(events), unique, by_order, folded, tuple(copies))


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
    new = {received.id_text for received in appended}
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
        key = received.id_text
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


def judge_arrivals(
    by_order: Mapping[str, RankedEvents], heads: Mapping[str, OrderHead]
) -> Judgement:
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
        if head is None:
            count = judge_ranked(ranked, None, verdicts)
        elif ranked[0][0] > head.precedence:
            count = judge_ranked(ranked, head.status, verdicts)
        else:
            rejudge.add(order_id)
            continue
        if count:
            illegal[order_id] = count
    return Judgement(verdicts, illegal, rejudge)


def apply_events(
    events: Sequence[ReceivedEvent] | PreparedEvents, orders: OrderRepository
) -> BatchOutcome:
    """The apply path inside an open transaction (does not commit): read the heads,
    judge on arrival, append to history, upsert the orders, re-judge what needs it."""
    prepared = events if isinstance(events, PreparedEvents) else prepare(events)
    if not prepared.received:
        return BatchOutcome()
    heads = orders.read_heads(prepared.by_order.keys())
    judged = judge_arrivals(prepared.by_order, heads)
    appended = orders.append_history(prepared.unique, judged.verdicts)
    conflicts = find_conflicts(prepared, appended, orders)
    if not appended:
        return BatchOutcome(
            received=prepared.received,
            duplicates=prepared.received - len(conflicts),
            conflicting=len(conflicts),
            conflicts=tuple(conflicts),
        )
    if len(appended) == len(prepared.unique):  # the usual case: every event is new
        folded = prepared.folded
    else:
        folded = _fold_appended(prepared, appended)
    rows = orders.upsert_sales(list(folded.values()), judged.illegal)
    stale, changed_meanwhile = _compare_rows(rows, folded, heads)
    rejudged = orders.rejudge((judged.rejudge & folded.keys()) | changed_meanwhile)
    awaiting = {row.order_id for row in rows if row.awaiting_creation}
    if len(appended) == len(prepared.unique):  # every event is new: count by order
        orphaned = sum(
            isinstance(event, StatusChanged)
            for order_id in awaiting
            for _, _, event in prepared.by_order[order_id]
        )
    else:
        orphaned = sum(
            1
            for received in appended
            if isinstance(received.event, StatusChanged) and received.event.order_id in awaiting
        )
    return BatchOutcome(
        received=prepared.received,
        applied=len(appended),
        duplicates=prepared.received - len(appended) - len(conflicts),
        stale=stale,
        orphaned=orphaned,
        illegal=sum(judged.illegal.values()) + rejudged,
        orders_touched=len(folded),
        conflicting=len(conflicts),
        conflicts=tuple(conflicts),
    )


def _fold_appended(
    prepared: PreparedEvents, appended: Sequence[ReceivedEvent]
) -> dict[str, OrderSummary]:
    """The fold of only the ``appended`` events of ``prepared``, by order: an order
    none of whose events was already stored keeps the fold made off the thread."""
    new = {received.id_text for received in appended}
    folded: dict[str, OrderSummary] = {}
    for order_id, ranked in prepared.by_order.items():
        kept = [entry for entry in ranked if entry[0][2] in new]  # precedence ends in the id
        if len(kept) == len(ranked):
            folded[order_id] = prepared.folded[order_id]
        elif kept:
            folded[order_id] = fold_ranked(order_id, kept)
    return folded


def _compare_rows(
    rows: Sequence[SaleState], folded: Mapping[str, OrderSummary], heads: Mapping[str, OrderHead]
) -> tuple[int, set[str]]:
    """How many applied events took no effect (their row already held a later status),
    and the orders another transaction folded events into since their head was read
    (the verdicts judged on arrival may miss those events)."""
    stale = 0
    changed_meanwhile: set[str] = set()
    for row in rows:
        batch = folded[row.order_id]
        if row.status_event_id != str(batch.status_event_id):
            stale += batch.event_count
        head = heads.get(row.order_id)
        if row.event_count != batch.event_count + (head.event_count if head else 0):
            changed_meanwhile.add(row.order_id)
    return stale, changed_meanwhile

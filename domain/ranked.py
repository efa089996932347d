"""The order rules in one pass over each order's events in precedence order.

:mod:`domain.order` states the rules readably: :func:`~domain.order.precedence`,
:func:`~domain.order.fold` and :func:`~domain.order.judge_transitions`. The
consumer runs them on every event of every batch, so this module computes the
same results faster: each order's events are sorted once by precedence, and
then the summary and the verdicts are single loops over that list.
``tests/unit/test_ranked.py`` holds these functions equal to the readable ones
over generated events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, MutableMapping
from datetime import datetime
from operator import itemgetter

from domain.events import Event, OrderCreated, event_status
from domain.lifecycle import INITIAL_STATUS, RANK, OrderStatus, is_legal
from domain.order import MILESTONE_FIELDS, OrderFacts, OrderSummary, Precedence

#: One order's distinct events in precedence order: (precedence, status, event).
RankedEvents = list[tuple[Precedence, OrderStatus, Event]]

_by_precedence = itemgetter(0)
_FAILED = OrderStatus.DELIVERY_FAILED
if _FAILED not in MILESTONE_FIELDS or INITIAL_STATUS in MILESTONE_FIELDS:
    raise RuntimeError("fold_ranked counts failed deliveries among the milestone statuses")


def rank_by_order(events: Iterable[tuple[str, Event]]) -> dict[str, RankedEvents]:
    """Each order's events in precedence order, by order id.

    ``events`` are (event id text, event) pairs with distinct ids; the id text is
    the last part of each precedence, taken as given rather than made again.
    """
    by_order: dict[str, RankedEvents] = defaultdict(list)
    for key, event in events:
        status = event_status(event)
        by_order[event.order_id].append(((event.occurred_at, RANK[status], key), status, event))
    for ranked in by_order.values():
        ranked.sort(key=_by_precedence)
    return by_order


def judge_ranked(
    ranked: RankedEvents, previous: OrderStatus | None, verdicts: MutableMapping[str, bool | None]
) -> int:
    """:func:`~domain.order.judge_transitions` of one order's ``ranked`` events, each
    taken as the move from the status before it (``previous`` for the first; ``None``
    when nothing earlier is known).

    Writes each event's verdict into ``verdicts`` under its id text (a batch's
    verdicts go into one mapping) and returns how many are illegal.
    """
    illegal = 0
    for (_, _, key), status, _ in ranked:
        # no earlier event and not a creation: unknown until the creation arrives
        if previous is None and status is not INITIAL_STATUS:
            verdicts[key] = None
        else:
            verdict = verdicts[key] = is_legal(previous, status)
            illegal += not verdict
        previous = status
    return illegal


def fold_ranked(order_id: str, ranked: RankedEvents) -> OrderSummary:
    """:func:`~domain.order.fold` of one order's ``ranked`` events (at least one).

    The latest event sets the status; the first of each milestone status is its
    earliest time; the first creation (creations share a rank) is the earliest.
    """
    facts: OrderFacts | None = None
    milestones: dict[OrderStatus, datetime] = {}
    failed = 0
    # one membership test for most events: a failed delivery is a milestone status,
    # and only a creation has the initial status
    for (occurred_at, _, _), status, event in ranked:
        if status in MILESTONE_FIELDS:
            if status not in milestones:
                milestones[status] = occurred_at
            if status is _FAILED:
                failed += 1
        elif facts is None and status is INITIAL_STATUS and isinstance(event, OrderCreated):
            facts = OrderFacts.from_event(event)
    (status_at, _, _), status, latest = ranked[-1]
    return OrderSummary(
        order_id=order_id,
        facts=facts,
        status=status,
        status_at=status_at,
        status_event_id=latest.event_id,
        milestones=milestones,
        failed_attempts=failed,
        event_count=len(ranked),
    )

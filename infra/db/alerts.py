"""The SQL side of SLA alerts: ``consumer.ports.AlertRepository`` on a connection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)

from consumer.ports import AlertChange, AlertSubject
from domain.alerts import ALERT_STATES, AlertedState, SlaAlert, encode_alert
from domain.events import ShippingTier
from domain.sla import SlaInput, SlaPolicy, SlaState, TierPolicy
from infra.db.apply_sql import insert_or_ignore
from infra.db.backend import backend_for
from infra.db.models import Sale, SlaAlertOutbox, SlaAlertState, UtcDateTime
from infra.db.sla_policy import sla_policy

if TYPE_CHECKING:
    from infra.db.backend import SqlBackend

_SALES = cast(Table, Sale.__table__)
_STATE = cast(Table, SlaAlertState.__table__)
_OUTBOX = cast(Table, SlaAlertOutbox.__table__)
_S, _A, _O = _SALES.c, _STATE.c, _OUTBOX.c
#: milestones after which an order is no longer open
_SETTLED = (_S.delivered_at, _S.cancelled_at, _S.lost_at, _S.returned_at)
_ALERTING = sorted(state.value for state in ALERT_STATES)
#: state moves per lock read: its ids well under SQLite's limit of bound values
_MOVES_PER_STATEMENT = 1000
#: read positionally by _subject: keep in step with it (and with SlaInput's fields)
_SUBJECT_COLUMNS = (
    _S.order_id,
    _S.created_at,
    _S.shipping_tier,
    _S.promised_delivery_at,
    _S.shipped_at,
    _S.out_for_delivery_at,
    _S.first_failed_at,
    _S.delivered_at,
    _S.returned_at,
    _S.lost_at,
    _S.cancelled_at,
    _S.status_at,
    _A.state,
    _A.episode_start,
    _A.as_of,
)


class SqlAlertRepository:
    """``sla_alert_state`` and ``sla_alert_outbox`` inside the connection's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._backend = backend_for(connection)

    def read_policy(self) -> SlaPolicy:
        rows = self._connection.execute(select(sla_policy)).mappings()
        policy: dict[ShippingTier, TierPolicy] = {}
        for row in rows:
            try:
                tier = ShippingTier(row["shipping_tier"])
            except ValueError:
                continue  # a policy row for a tier no event can carry
            policy[tier] = TierPolicy(
                promise_days=row["promise_days"],
                business_days=row["business_days"],
                end_of_day=row["end_of_day"],
                ship_within_hours=row["ship_within_hours"],
                at_risk_remaining_pct=row["at_risk_remaining_pct"],
            )
        return policy

    def _subjects(self, params: dict[str, Any], *conditions: Any) -> list[AlertSubject]:
        query = (
            select(*_SUBJECT_COLUMNS)
            .select_from(_SALES.outerjoin(_STATE, _A.order_id == _S.order_id))
            .where(_S.awaiting_creation.is_(False), _S.created_at.is_not(None), *conditions)
        )
        return [_subject(row) for row in self._connection.execute(query, params)]

    def read_subjects(self, order_ids: Collection[str]) -> list[AlertSubject]:
        # a settled order (evaluated no earlier than its latest event) can only leave
        # an announced at_risk/breached: the others cannot move, so are not read
        settled = or_(*(column.is_not(None) for column in _SETTLED))
        movable = or_(~settled, _A.state.in_(_ALERTING))
        # the ids as one list parameter: each one bound by the driver rather than
        # processed by SQLAlchemy, and looked up by index on PostgreSQL
        ids = sorted(order_ids)
        size = self._backend.ids_per_statement or len(ids) or 1
        among = self._backend.among(_S.order_id, "ids")
        subjects: list[AlertSubject] = []
        for i in range(0, len(ids), size):
            subjects += self._subjects({"ids": ids[i : i + size]}, among, movable)
        return subjects

    def read_open_subjects(self) -> list[AlertSubject]:
        return self._subjects(
            {},
            *(column.is_(None) for column in _SETTLED),
            (_A.state.is_(None)) | (_A.state != SlaState.BREACHED.value),
        )

    def record(self, changes: Sequence[AlertChange]) -> list[SlaAlert]:
        now = datetime.now(UTC)

        def values(change: AlertChange) -> dict[str, Any]:
            after = change.after
            return {
                "order_id": change.alert.order_id,
                "state": after.state.value,
                "episode_start": after.episode_start,
                "as_of": after.as_of,
                "alerted_at": now,
            }

        moved: set[str] = set()
        first = [values(change) for change in changes if change.before is None]
        if first:  # one statement; an order another writer announced first is skipped
            add = insert_or_ignore(self._backend, _STATE).returning(_A.order_id)
            moved.update(self._connection.execute(add, first).scalars())
        moves = [change for change in changes if change.before is not None]
        for i in range(0, len(moves), _MOVES_PER_STATEMENT):
            moved.update(self._move(moves[i : i + _MOVES_PER_STATEMENT], now))
        queued = [change.alert for change in changes if change.alert.order_id in moved]
        if queued:
            self._connection.execute(
                insert_or_ignore(self._backend, _OUTBOX),
                [
                    {
                        "alert_id": str(alert.alert_id),
                        "order_id": alert.order_id,
                        "payload": encode_alert(alert).decode("utf-8"),
                        "queued_at": now,
                    }
                    for alert in queued
                ],
            )
        return queued

    def _move(self, moves: Sequence[AlertChange], now: datetime) -> list[str]:
        """Move each order of ``moves`` from its ``before`` to its ``after`` state, only
        where it still holds ``before``; returns the orders moved.

        The rows are locked (in order-id order) and compared here, then the moves written
        with one short statement run for many rows: a single statement carrying every
        row's values is thousands of parameters the driver parses again at each batch.
        A locked row cannot change before the transaction ends, so the guard holds.
        """
        held = {
            order_id: (state, start)
            for order_id, state, start in self._connection.execute(
                _held_statement(self._backend),
                {"ids": sorted({change.alert.order_id for change in moves})},
            )
        }
        due: list[dict[str, Any]] = []
        for change in moves:
            before, after = change.before, change.after
            assert before is not None
            if held.get(change.alert.order_id) == (before.state.value, before.episode_start):
                due.append(
                    {
                        "o": change.alert.order_id,
                        "s": after.state.value,
                        "e": after.episode_start,
                        "a": after.as_of,
                        "now": now,
                    }
                )
        if due:
            self._connection.execute(_MOVE, due)
        return [change["o"] for change in due]

    def pending(self, limit: int) -> list[SlaAlert]:
        rows = self._connection.execute(
            select(_O.payload).order_by(_O.queued_at, _O.alert_id).limit(limit)
        )
        return [SlaAlert.model_validate_json(payload) for (payload,) in rows]

    def forget(self, alert_ids: Collection[str]) -> None:
        ids = sorted(alert_ids)
        size = self._backend.ids_per_statement or len(ids) or 1
        forget = delete(_OUTBOX).where(self._backend.among(_O.alert_id, "ids"))
        for i in range(0, len(ids), size):
            self._connection.execute(forget, {"ids": ids[i : i + size]})

    def count_alerting(self) -> dict[SlaState, int]:
        states = sorted(state.value for state in ALERT_STATES)
        rows = self._connection.execute(
            select(_A.state, func.count()).where(_A.state.in_(states)).group_by(_A.state)
        )
        return {SlaState(state): count for state, count in rows}


#: enum members by stored value: a dict lookup is cheaper than calling the enum
_TIERS = {tier.value: tier for tier in ShippingTier}
_STATES = {state.value: state for state in SlaState}


def _subject(row: Any) -> AlertSubject:
    # positional, in the order of _SUBJECT_COLUMNS (and of SlaInput's fields): this runs
    # for every order a batch touches
    (order_id, created, tier, promised, *milestones, status_at, state, start, as_of) = row
    order = SlaInput(order_id, created, _TIERS[tier], promised, *milestones)
    last = AlertedState(_STATES[state], start, as_of) if state is not None else None
    return AlertSubject(order, status_at, last)


@cache
def _held_statement(backend: SqlBackend) -> Select[str, str, datetime]:
    """The announced states of the orders of list parameter ``ids``, locked."""
    return (
        select(_A.order_id, _A.state, _A.episode_start)
        .where(backend.among(_A.order_id, "ids"))
        .order_by(_A.order_id)  # one lock order for all writers
        .with_for_update()
    )


#: one order's move, run for many (``executemany``)
_MOVE = (
    update(_STATE)
    .where(_A.order_id == bindparam("o", type_=String))
    .values(
        state=bindparam("s", type_=String),
        episode_start=bindparam("e", type_=UtcDateTime),
        as_of=bindparam("a", type_=UtcDateTime),
        alerted_at=bindparam("now", type_=UtcDateTime),
    )
)

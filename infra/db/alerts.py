"""The SQL side of SLA alerts: ``consumer.ports.AlertRepository`` on a connection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnClause,
    Connection,
    String,
    Table,
    Update,
    bindparam,
    column,
    delete,
    func,
    or_,
    select,
    text,
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
#: state moves per statement: six bound values each, well under SQLite's limit
_MOVES_PER_STATEMENT = 1000
_MOVE_KEYS = ("o", "bs", "be", "s", "e", "a")
#: one state move: the order, the state it must still hold, the state it takes
_MOVE_COLUMNS: tuple[ColumnClause[Any], ...] = (
    column("order_id", String),
    column("before_state", String),
    column("before_start", UtcDateTime),
    column("state", String),
    column("episode_start", UtcDateTime),
    column("as_of", UtcDateTime),
)
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
        """Move each order of ``moves`` from its ``before`` to its ``after`` state in one
        statement, only where it still holds ``before``; returns the orders moved."""
        params: dict[str, Any] = {"now": now}
        for i, change in enumerate(moves):
            before, after = change.before, change.after
            assert before is not None
            params.update(
                {
                    f"o{i}": change.alert.order_id,
                    f"bs{i}": before.state.value,
                    f"be{i}": before.episode_start,
                    f"s{i}": after.state.value,
                    f"e{i}": after.episode_start,
                    f"a{i}": after.as_of,
                }
            )
        size = _padded(len(moves))
        for i in range(len(moves), size):  # repeat the last move: same guard, same effect
            params.update({f"{k}{i}": params[f"{k}{len(moves) - 1}"] for k in _MOVE_KEYS})
        params["ids"] = sorted({change.alert.order_id for change in moves})
        return list(
            self._connection.execute(_moves_statement(self._backend, size), params).scalars()
        )

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


def _subject(row: Any) -> AlertSubject:
    order = SlaInput(
        order_id=row.order_id,
        created_at=row.created_at,
        shipping_tier=ShippingTier(row.shipping_tier),
        promised_delivery_at=row.promised_delivery_at,
        shipped_at=row.shipped_at,
        out_for_delivery_at=row.out_for_delivery_at,
        first_failed_at=row.first_failed_at,
        delivered_at=row.delivered_at,
        returned_at=row.returned_at,
        lost_at=row.lost_at,
        cancelled_at=row.cancelled_at,
    )
    last = (
        AlertedState(SlaState(row.state), row.episode_start, row.as_of)
        if row.state is not None
        else None
    )
    return AlertSubject(order, row.status_at, last)


def _padded(n: int) -> int:
    """The next power of two from ``n``: a few statement shapes, each compiled once."""
    return 1 << max(n - 1, 0).bit_length()


@cache
def _moves_statement(backend: SqlBackend, size: int) -> Update:
    """The guarded move of ``size`` orders' alert states (bound values ``o0``..).

    The rows are a textual ``VALUES`` list: unlike ``values()`` it has a cache key, so
    SQLAlchemy compiles each shape once rather than at every batch (thousands of bound
    values). Both databases name the columns of ``VALUES`` ``column1``, ``column2``..
    """
    rows = ", ".join("(" + ", ".join(f":{k}{i}" for k in _MOVE_KEYS) + ")" for i in range(size))
    binds = [
        bindparam(f"{k}{i}", type_=c.type)
        for i in range(size)
        for k, c in zip(_MOVE_KEYS, _MOVE_COLUMNS, strict=True)
    ]
    numbered = [column(f"column{n}", c.type) for n, c in enumerate(_MOVE_COLUMNS, start=1)]
    v = text(f"VALUES {rows}").bindparams(*binds).columns(*numbered).cte("moves")
    order_id, before_state, before_start, state, episode_start, as_of = v.c
    result: Update = (
        update(_STATE)
        .where(
            backend.among(_A.order_id, "ids"),
            _A.order_id == order_id,
            _A.state == before_state,
            _A.episode_start == before_start,
        )
        .values(
            state=state,
            episode_start=episode_start,
            as_of=as_of,
            alerted_at=bindparam("now", type_=UtcDateTime),
        )
        .returning(_A.order_id)  # not rowcount: drivers may not report it
    )
    return result

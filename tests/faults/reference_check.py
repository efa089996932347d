"""Compare a final database with :mod:`tests.faults.reference`.

``order_history`` and ``sales`` are read with plain SQL. SLA states come from the
pipeline's own SQL (the ``order_sla`` view, and its SELECT at earlier instants): that
SQL is what is under test; the expected states come from the reference alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from infra.db.backend import backend_for
from infra.reporting.order_sla_sql import order_sla_select
from tests.faults.reference import MILESTONE_COLUMNS, Order, Reference, sla_states

FACT_COLUMNS = (
    "customer_id", "customer_name", "product_sku", "product_name", "quantity", "unit_price",
    "currency", "shipping_tier", "carrier", "destination_region", "promised_delivery_at",
)  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHOWN = 40  # differences listed in full; the rest are counted


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _normal(value: Any, column: str = "") -> Any:
    """Backend values made comparable: instants in UTC, numbers as Decimal, flags as bool.
    SQLite keeps the ``*_at`` times as integer microseconds since the epoch (docs/sla.md)."""
    if column.endswith("_at") and isinstance(value, int) and not isinstance(value, bool):
        return EPOCH + timedelta(microseconds=value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        value = datetime.fromisoformat(value)  # SQLite returns times as text
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    return value


def expected_row(order: Order) -> dict[str, Any]:
    """The ``sales`` columns the documents determine for ``order``."""
    latest, creation = order.latest, order.creation
    facts: Mapping[str, Any] = dict(creation.facts) if creation else {}
    milestones = order.milestones()
    row: dict[str, Any] = {
        "status": latest.status,
        "status_at": latest.occurred_at,
        "status_event_id": latest.event_id,
        "awaiting_creation": creation is None,
        "created_at": creation.occurred_at if creation else None,
        "created_event_id": creation.event_id if creation else None,
        "failed_attempts": sum(1 for e in order.events if e.status == "delivery_failed"),
        "event_count": len(order.events),
        "illegal_transitions": order.illegal_transitions,
    }
    row.update({column: facts.get(column) for column in FACT_COLUMNS})
    row.update({column: milestones.get(s) for s, column in MILESTONE_COLUMNS.items()})
    return {k: _normal(v) for k, v in row.items()}


def _history_differences(conn: sa.Connection, reference: Reference) -> list[str]:
    rows = conn.execute(sa.text("SELECT event_id, order_id, legal FROM order_history"))
    got = {e: (o, None if legal is None else bool(legal)) for e, o, legal in rows}
    want = reference.history()
    found = [f"history: event {e} missing (reference {want[e]})" for e in want.keys() - got]
    found += [f"history: event {e} not expected (db {got[e]})" for e in got.keys() - want]
    found += [
        f"history: event {e} of {want[e][0]}: db {got[e]}, reference {want[e]}"
        for e in want.keys() & got.keys()
        if got[e] != want[e]
    ]
    return found


def _sales_differences(conn: sa.Connection, reference: Reference) -> list[str]:
    rows = conn.execute(sa.text("SELECT * FROM sales")).mappings()
    got = {row["order_id"]: row for row in rows}
    found = [f"sales: order {o} missing" for o in reference.orders.keys() - got]
    found += [f"sales: order {o} not expected" for o in got.keys() - reference.orders]
    for order_id in sorted(reference.orders.keys() & got.keys()):
        for column, want in expected_row(reference.orders[order_id]).items():
            value = _normal(got[order_id][column], column)
            if value != want:
                found.append(f"sales: order {order_id} {column}: db {value!r}, reference {want!r}")
    return found


def _state(row: Any) -> str:
    """``sla_state``, with the at-risk reason as the reference writes it (``at_risk/...``)."""
    return f"{row.sla_state}/{row.at_risk_reason}" if row.at_risk_reason else str(row.sla_state)


def _compare_states(
    got: Mapping[str, str], early: Mapping[str, str], late: Mapping[str, str], when: str
) -> list[str]:
    found = [f"sla {when}: order {o} missing" for o in early.keys() - got]
    found += [f"sla {when}: order {o} not expected" for o in got.keys() - late.keys()]
    found += [
        f"sla {when}: order {o}: db {got[o]}, reference {early[o]}"
        for o in early.keys() & got.keys()
        if got[o] not in (early[o], late.get(o))  # a threshold crossed while reading
    ]
    return found


def _sla_differences(conn: sa.Connection, reference: Reference) -> list[str]:
    """SLA states: ``order_sla`` as of now, and the per-order SELECT as of earlier instants.

    The earlier instants are quartiles of the creation times, so open orders (on track,
    at risk, breached) are judged too, not only the settled ones of a finished stream.
    """
    orders = list(reference.orders.values())
    before = datetime.now(UTC)
    rows = conn.execute(sa.text("SELECT order_id, sla_state, at_risk_reason FROM order_sla"))
    got = {row.order_id: _state(row) for row in rows}
    after = datetime.now(UTC)
    found = _compare_states(got, sla_states(orders, before), sla_states(orders, after), "now")
    created = sorted(c.occurred_at for o in orders if (c := o.creation) is not None)
    query = sa.text(order_sla_select(backend_for(conn), "CAST(:as_of_us AS BIGINT)"))
    for quartile in (1, 2, 3):
        if not created:
            break
        as_of = created[len(created) * quartile // 4]
        micros = (as_of - EPOCH) // timedelta(microseconds=1)
        rows = conn.execute(query, {"as_of_us": micros})
        got = {row.order_id: _state(row) for row in rows}
        states = sla_states(orders, as_of)
        found += _compare_states(got, states, states, as_of.isoformat())
    return found


def reference_differences(
    database_url: str, messages: Iterable[tuple[bytes | None, bytes | None]]
) -> list[str]:
    """How the database differs from the reference model of ``messages`` (empty: none)."""
    reference = Reference.of(messages)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            found = _history_differences(conn, reference)
            found += _sales_differences(conn, reference)
            found += _sla_differences(conn, reference)
    finally:
        engine.dispose()
    if len(found) > SHOWN:
        found = [*found[:SHOWN], f"... and {len(found) - SHOWN} more"]
    return found

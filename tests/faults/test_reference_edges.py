"""The real apply path against the reference model on small streams full of edge cases.

The generated fault streams never tie two events of an order in event time and never
reuse an event id with other content; these hand-made streams do, so the readings of
the documents listed in ``tests.faults.reference`` are checked against the pipeline
too. Decoding and applying go through ``decode_batch`` and ``apply_batch`` on both
backends, in batches of one message and in one batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from consumer.apply import apply_batch
from consumer.batch import RawMessage, SourcePosition
from consumer.decode import decode_batch
from infra.bootstrap import migrated_engine, unit_of_work_factory
from infra.settings import Settings
from tests.faults.reference_check import reference_differences
from tests.support.reference_messages import Message, changed, created

pytestmark = pytest.mark.faults


def _with(message: Message, offset: str) -> Message:
    """``message`` with its event time written in another offset (the same instant)."""
    key, value = message
    doc = json.loads(value or b"")
    moment = datetime.fromisoformat(doc["occurred_at"])
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    zone = timezone((1 if offset[0] == "+" else -1) * timedelta(hours=hours, minutes=minutes))
    doc["occurred_at"] = moment.astimezone(zone).isoformat()
    return key, json.dumps(doc).encode()


STREAMS: dict[str, list[Message]] = {
    "terminal statuses tied in event time": [
        created(1), changed(2, "out_for_delivery", 5), changed(3, "lost", 6),
        changed(4, "delivered", 6), changed(5, "returned_to_sender", 6),
    ],
    "same status tied, event ids decide": [
        created(1), changed(12, "approved", 1), changed(11, "approved", 1),
    ],
    "creation later than a status change": [changed(2, "approved", -1), created(1)],
    "two creations with different facts": [
        created(2, hours=1, carrier="ups"), created(1, carrier="gls"), changed(3, "approved", 2),
    ],
    "a conflicting duplicate": [
        created(1), changed(2, "approved", 1), changed(2, "cancelled", 1),
    ],
    "moves after a terminal status": [
        created(1), changed(2, "cancelled", 1), changed(3, "approved", 2),
        changed(4, "delivered", 3),
    ],
    "an orphan never created": [changed(2, "shipped", 1, order="O-2")],
    "the same event written with another offset": [
        created(1), changed(2, "approved", 1), _with(changed(2, "approved", 1), "+02:00"),
    ],
    "an event id reused by another order and another type": [
        created(1), changed(1, "approved", 1), created(1, order="O-2"),
        created(2, order="O-2"),
    ],
    "creation and status changes at the same instant": [
        changed(3, "cancelled", 0), created(1), changed(2, "approved", 0),
    ],
    "a price as a number and a promise with an offset": [
        created(1, unit_price=19.9, promised_delivery_at="2025-01-08T23:59:59.999999-05:00"),
        changed(2, "approved", 1), changed(3, "delivered", 2),
    ],
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_database_url")


@pytest.mark.parametrize("batch_size", [1, 100])
@pytest.mark.parametrize("name", list(STREAMS))
def test_the_apply_path_agrees_with_the_reference(
    database_url: str, name: str, batch_size: int
) -> None:
    messages = STREAMS[name]
    engine = migrated_engine(Settings(database_url=database_url))
    unit_of_work = unit_of_work_factory(engine)
    raw = [
        RawMessage(SourcePosition("status-changed", 0, n), key, value)
        for n, (key, value) in enumerate(messages)
    ]
    for start in range(0, len(raw), batch_size):
        apply_batch(decode_batch(raw[start : start + batch_size]).events, unit_of_work())
    engine.dispose()
    assert reference_differences(database_url, messages) == []


def test_a_tampered_database_is_told_apart(sqlite_url: str) -> None:
    """The comparison sees a wrong status, a wrong verdict and a wrong SLA state."""
    messages = [created(1), changed(2, "approved", 1), changed(3, "delivered", 2)]
    engine = migrated_engine(Settings(database_url=sqlite_url))
    raw = [RawMessage(SourcePosition("t", 0, n), k, v) for n, (k, v) in enumerate(messages)]
    apply_batch(decode_batch(raw).events, unit_of_work_factory(engine)())
    assert reference_differences(sqlite_url, messages) == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE sales SET status = 'approved', delivered_at = NULL"))
        conn.execute(text("UPDATE order_history SET legal = NULL WHERE status = 'approved'"))
    engine.dispose()
    found = "\n".join(reference_differences(sqlite_url, messages))
    assert "status: db 'approved', reference 'delivered'" in found
    assert "delivered_at: db None" in found
    assert "db ('O-1', None), reference ('O-1', True)" in found
    assert "sla now: order O-1: db breached, reference met" in found

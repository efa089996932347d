"""Migration 0006 turns SQLite's text times into integer microseconds, exactly.

A database at 0005 holds times as SQLAlchemy wrote them then
(``YYYY-MM-DD HH:MM:SS.ffffff`` text, UTC); after 0006 each is the integer number
of microseconds since 1970 UTC of the same instant, and a downgrade writes the
same text back.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from tests.support.migrations import downgrade

pytestmark = pytest.mark.integration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: the first and last instants accepted, a fraction SQLite's strftime would round, a leap day
INSTANTS = (
    EPOCH,
    datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 3, 1, 12, 0, 59, 999600, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
)


def _text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def test_text_times_become_their_microseconds_and_back(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine, "0005")
    path = sqlite_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        for n, at in enumerate(INSTANTS):
            db.execute(
                "INSERT INTO sales (order_id, shipping_tier, awaiting_creation, status,"
                " status_rank, status_at, status_event_id, created_at, failed_attempts,"
                " event_count, illegal_transitions, updated_at)"
                " VALUES (?, 'standard', 0, 'pending', 0, ?, 'e', ?, 0, 1, 0, ?)",
                (f"o{n}", _text(at), _text(at), _text(at)),
            )
            db.execute(
                "INSERT INTO order_history (event_id, order_id, event_type, status, status_rank,"
                " occurred_at, ingested_at, payload) VALUES (?, ?, 'order-created', 'pending',"
                " 0, ?, ?, '{}')",
                (f"e{n}", f"o{n}", _text(at), _text(at)),
            )
    upgrade(engine)
    with sqlite3.connect(path) as db:
        sales = db.execute("SELECT status_at, created_at, updated_at FROM sales ORDER BY order_id")
        history = db.execute("SELECT occurred_at, ingested_at FROM order_history ORDER BY event_id")
        want = [_micros(at) for at in INSTANTS]
        assert [row[0] for row in sales.fetchall()] == want
        assert [row[1] for row in history.fetchall()] == want
        # the recreated view reads them: every order but the one created in 2199 (not yet)
        assert db.execute("SELECT COUNT(*) FROM order_sla").fetchone() == (len(INSTANTS) - 1,)
    downgrade(engine, "0005")
    with sqlite3.connect(path) as db:
        back = db.execute("SELECT status_at FROM sales ORDER BY order_id").fetchall()
    assert [row[0] for row in back] == [_text(at) for at in INSTANTS]
    engine.dispose()

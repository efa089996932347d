"""Migrations 0007, 0008 and 0010: the history loses its foreign key to sales, its
wide index for one on ``order_id``, then its surrogate id for the event id as its
key; rows stay, and the event id stays unique.

On SQLite the table is copied without the key: its rows, unique event id and
index must survive; a downgrade brings back both the key and the wide index.
Each backend in turn.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from tests.support.migrations import downgrade

pytestmark = pytest.mark.integration

INSERT_SALE = (
    "INSERT INTO sales (order_id, awaiting_creation, status, status_rank, status_at,"
    " status_event_id, failed_attempts, event_count, illegal_transitions, updated_at)"
    " VALUES ('o1', :yes, 'approved', 1, :at, 'e1', 0, 1, 0, :at)"
)
INSERT_EVENT = (
    "INSERT INTO order_history (event_id, order_id, event_type, status, status_rank,"
    " occurred_at, ingested_at, legal, payload)"
    " VALUES ('e1', 'o1', 'status-changed', 'approved', 1, :at, :at, NULL, '{}')"
)


Shape = tuple[list[str], list[str], list[tuple[str, ...]], list[tuple[str, ...]]]


def _shape(engine: Engine) -> Shape:
    """The history's foreign keys (referred tables), primary key columns, unique column
    sets and indexed columns."""
    found = inspect(engine)
    keys = [fk["referred_table"] for fk in found.get_foreign_keys("order_history")]
    primary = list(found.get_pk_constraint("order_history")["constrained_columns"])
    unique = [tuple(u["column_names"]) for u in found.get_unique_constraints("order_history")]
    unique += [
        tuple(str(c) for c in i["column_names"])
        for i in found.get_indexes("order_history")
        if i["unique"]
    ]
    indexed = [
        tuple(str(c) for c in i["column_names"])
        for i in found.get_indexes("order_history")
        if not i["unique"]
    ]
    return keys, primary, sorted(set(unique)), indexed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_history_sheds_its_foreign_key_wide_index_and_surrogate_id(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_database_url")
    engine = make_engine(str(url))
    upgrade(engine, "0006")
    # times as 0006 stores them: integer microseconds on SQLite, timestamptz elsewhere
    at: object = 1_700_000_000_000_000 if backend == "sqlite" else "2023-11-14T22:13:20Z"
    with engine.begin() as conn:
        conn.execute(text(INSERT_SALE), {"yes": False, "at": at})
        conn.execute(text(INSERT_EVENT), {"at": at})
    keys, primary, unique, indexed = _shape(engine)
    assert (keys, primary, unique) == (["sales"], ["id"], [("event_id",)])
    assert ("order_id", "occurred_at", "status_rank", "event_id") in indexed

    upgrade(engine, "0007")
    assert _shape(engine) == ([], ["id"], unique, indexed)
    upgrade(engine, "0009")
    assert _shape(engine) == ([], ["id"], unique, [("order_id",)])
    upgrade(engine)
    assert _shape(engine) == ([], ["event_id"], [], [("order_id",)])
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM order_history"))
        assert [(r.event_id, r.order_id, r.payload) for r in rows] == [("e1", "o1", "{}")]
        with pytest.raises(IntegrityError):  # the event id is still unique
            conn.execute(text(INSERT_EVENT), {"at": at})

    downgrade(engine, "0006")
    assert _shape(engine) == (["sales"], ["id"], unique, indexed)
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id, event_id FROM order_history")).all()
        assert [event_id for _, event_id in ids] == ["e1"] and ids[0][0] is not None
    engine.dispose()

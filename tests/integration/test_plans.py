"""PostgreSQL: no batch statement scans a whole table, whatever the statistics say,
and the writer analyses fresh tables itself."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from consumer.apply import apply_batch
from consumer.batch import ReceivedEvent
from domain.lifecycle import OrderStatus as S
from infra.db import judge_sql
from infra.db.backend import backend_named
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.unit_of_work import SqlUnitOfWork
from tests.support.builders import changed, created

pytestmark = pytest.mark.integration

ORDERS = 20000
EVENTS_PER_ORDER = 4

#: a never-analysed table of ORDERS * EVENTS_PER_ORDER history rows (autovacuum off)
FILL_SQL = f"""
ALTER TABLE order_history SET (autovacuum_enabled = false);
ALTER TABLE sales SET (autovacuum_enabled = false);
INSERT INTO sales (order_id, awaiting_creation, status, status_rank, status_at,
    status_event_id, failed_attempts, event_count, illegal_transitions, updated_at)
SELECT 'O-' || o, false, 'delivered', 7, now(), md5(o::text), 0, {EVENTS_PER_ORDER}, 0, now()
FROM generate_series(1, {ORDERS}) AS o;
INSERT INTO order_history (event_id, order_id, event_type, status, status_rank,
    occurred_at, ingested_at, legal, payload)
SELECT md5(o || '/' || e), 'O-' || o, 'order-status-changed', 'shipped', e,
    now() + e * interval '1 minute', now(), NULL, '{{}}'
FROM generate_series(1, {ORDERS}) AS o, generate_series(1, {EVENTS_PER_ORDER}) AS e;
"""


@pytest.fixture
def engine(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def scanned_whole(conn: Connection, sql: str, params: dict[str, Any]) -> list[str]:
    """Tables ``sql`` reads with a sequential scan, from its EXPLAIN."""
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar_one()
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] == "Seq Scan":
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
    return found


def test_the_rejudge_reads_by_index_on_never_analysed_tables(engine: Engine) -> None:
    statement = judge_sql.rejudge_and_recount(backend_named("postgresql"))
    order_ids = [f"O-{o}" for o in range(1, 1001, 2)]  # 500 orders of 20,000
    expanded = statement.compile(engine).construct_expanded_state({"order_ids": order_ids})
    with engine.connect() as conn:
        conn.exec_driver_sql(FILL_SQL)
        analysed = conn.execute(
            text(
                "SELECT count(*) FROM pg_stats"
                " WHERE tablename IN ('order_history', 'sales') AND schemaname = 'public'"
            )
        ).scalar_one()
        assert analysed == 0
        assert scanned_whole(conn, expanded.statement, dict(expanded.parameters)) == []
        # and it runs: every row of those orders is judged, the first one legal-less
        became_illegal = conn.execute(statement, {"order_ids": order_ids}).scalar_one()
        flags = conn.execute(
            text("SELECT count(*) FROM order_history WHERE legal = false AND order_id = 'O-1'")
        ).scalar_one()
        conn.rollback()
    assert became_illegal == len(order_ids) * (EVENTS_PER_ORDER - 1)
    assert flags == EVENTS_PER_ORDER - 1


def test_the_writer_analyses_fresh_tables_after_its_first_batch(engine: Engine) -> None:
    def last_analyze() -> dict[str, object]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname, last_analyze FROM pg_stat_user_tables"
                    " WHERE relname IN ('order_history', 'sales')"
                )
            ).all()
        return dict(rows)

    assert set(last_analyze().values()) == {None}
    events = [created("ORD-1"), changed(S.APPROVED, "ORD-1", hours=1)]
    apply_batch([ReceivedEvent(e) for e in events], SqlUnitOfWork(engine))
    # on a thread of its own, so that no batch waits for it
    deadline = time.monotonic() + 15
    while None in (analysed := last_analyze()).values() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(analysed) == {"order_history", "sales"}
    assert None not in analysed.values()

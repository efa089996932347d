"""The comparator: the minimal batched sink a user could write by hand in 100 lines.

confluent-kafka + psycopg 3, batches of ``batch_size`` messages: ``executemany``
INSERT ... ON CONFLICT DO NOTHING into a history table, an event-time-guarded
upsert of each order's latest status (later event time wins, ties by status
rank then event id), then a synchronous offset commit. No legality, milestones,
orphan bookkeeping, offsets in the database or dead letters: what the
guarantees cost is the gap between this and the worker.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg
from confluent_kafka import Consumer

from domain.lifecycle import RANK, OrderStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS plain_history (
  event_id uuid PRIMARY KEY, order_id text NOT NULL, event_type text NOT NULL,
  status text NOT NULL, occurred_at timestamptz NOT NULL, payload text NOT NULL);
CREATE TABLE IF NOT EXISTS plain_status (
  order_id text PRIMARY KEY, status text NOT NULL, status_rank int NOT NULL,
  status_at timestamptz NOT NULL, event_id uuid NOT NULL);
"""
INSERT_HISTORY = (
    "INSERT INTO plain_history (event_id, order_id, event_type, status, occurred_at, payload)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
)
UPSERT_STATUS = (
    "INSERT INTO plain_status AS s (order_id, status, status_rank, status_at, event_id)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (order_id) DO UPDATE SET"
    " status = excluded.status, status_rank = excluded.status_rank,"
    " status_at = excluded.status_at, event_id = excluded.event_id"
    " WHERE (excluded.status_at, excluded.status_rank, excluded.event_id)"
    " > (s.status_at, s.status_rank, s.event_id)"
)
RANKS = {status.value: rank for status, rank in RANK.items()}
PENDING_RANK = RANKS[OrderStatus.PENDING.value]


def run(
    bootstrap: str, database_url: str, topics: list[str], batch_size: int, expected: int
) -> dict[str, Any]:
    """Consume ``expected`` messages of ``topics`` into the plain tables; figures as a dict."""
    conn = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1))
    conn.execute(SCHEMA)
    conn.commit()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"plain-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    consumed = batches = 0
    started = time.perf_counter()
    idle_since = started
    while consumed < expected:
        messages = consumer.consume(batch_size, timeout=0.5)
        if not messages:
            if time.perf_counter() - idle_since > 30:
                break
            continue
        idle_since = time.perf_counter()
        apply(conn, [v for m in messages if m.error() is None and (v := m.value()) is not None])
        consumer.commit(asynchronous=False)
        consumed += len(messages)
        batches += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    conn.close()
    return {"events": consumed, "batches": batches, "seconds": round(elapsed, 2)}


def apply(conn: psycopg.Connection[Any], values: list[bytes]) -> None:
    """One transaction: the history rows, then each order's latest status of the batch."""
    history = []
    latest: dict[str, tuple[str, int, str, str]] = {}
    for value in values:
        event = json.loads(value)
        status = event.get("status", "pending")
        key = (event["occurred_at"], RANKS.get(status, PENDING_RANK), status, event["event_id"])
        history.append(
            (
                event["event_id"],
                event["order_id"],
                event["event_type"],
                status,
                key[0],
                value.decode(),
            )
        )
        # ISO strings with the same offset compare as times; the producer writes UTC
        best = latest.get(event["order_id"])
        if best is None or (key[0], key[1], key[3]) > (best[0], best[1], best[3]):
            latest[event["order_id"]] = key
    with conn.cursor() as cur:
        cur.executemany(INSERT_HISTORY, history)
        cur.executemany(
            UPSERT_STATUS,
            [(order, status, rank, at, eid) for order, (at, rank, status, eid) in latest.items()],
        )
    conn.commit()


def final_statuses(database_url: str) -> dict[str, str]:
    """order_id -> status of the plain sink's table."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as c:
        return dict(c.execute("SELECT order_id, status FROM plain_status").fetchall())

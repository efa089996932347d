"""Ending the sessions of workers frozen in the middle of a COPY.

PostgreSQL ends a transaction left idle (``idle_in_transaction_session_timeout``),
but a session whose client froze while sending COPY data is "active", waiting to
read from its client, and no server timeout ends it (``statement_timeout`` is not
checked while it waits). Its row locks then block the member that took over its
partitions. When a batch gives up waiting for a lock, the sessions that have been
stuck like that for longer than the lock wait are ended: only this project's staging
COPY statements qualify, and their batch is simply read again (or fenced).
"""

from __future__ import annotations

import logging

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from infra.db.engine import LOCK_TIMEOUT_MS

log = logging.getLogger(__name__)

_END_STUCK_COPIES = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND state = 'active' AND wait_event = 'ClientRead'"
    " AND query LIKE 'COPY sla\\_stage\\_%'"
    " AND now() - state_change > make_interval(secs => :stuck_s)"
)


def waited_for_a_lock(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it was translated from) is a statement that gave up
    waiting for a lock."""
    while error is not None:
        if isinstance(getattr(error, "orig", error), psycopg.errors.LockNotAvailable):
            return True
        error = error.__cause__
    return False


def end_stuck_copies(engine: Engine, stuck_s: float = LOCK_TIMEOUT_MS / 1000) -> int:
    """End the sessions stuck in a staging COPY for longer than ``stuck_s`` (the lock
    wait); returns how many."""
    try:
        with engine.connect() as conn:
            ended = conn.execute(_END_STUCK_COPIES, {"stuck_s": stuck_s}).all()
            conn.commit()
    except (SQLAlchemyError, psycopg.Error) as error:
        log.warning("could not look for sessions stuck in a COPY: %s", error)
        return 0
    count = sum(1 for (done,) in ended if done)
    if count:
        log.warning(
            "ended %d database sessions stuck in a COPY for over %gs (a frozen worker); "
            "their batches are read again",
            count,
            stuck_s,
        )
    return count

"""A session whose client froze in the middle of a staging COPY is ended on request.

No server timeout ends it (it is "active", waiting to read from its client), so a
batch that gave up waiting for its locks ends it (``infra.db.stuck``).
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import make_url, text

from infra.db.engine import make_engine
from infra.db.stuck import end_stuck_copies, waited_for_a_lock

pytestmark = pytest.mark.integration


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_copy_whose_client_froze_is_ended(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url)
    frozen = psycopg.connect(_libpq_url(pg_database_url), application_name="frozen-copy")
    frozen.execute("CREATE TEMPORARY TABLE sla_stage_probe (x int)")
    outcome: list[BaseException | None] = []

    def copy_and_freeze() -> None:
        try:
            with frozen.cursor() as cursor, cursor.copy("COPY sla_stage_probe FROM STDIN"):
                time.sleep(6)  # the client sends nothing, as a frozen process would
            frozen.commit()
            outcome.append(None)
        except psycopg.Error as error:
            outcome.append(error)

    thread = threading.Thread(target=copy_and_freeze)
    thread.start()
    try:
        time.sleep(2)
        with engine.connect() as conn:
            state = conn.execute(
                text(
                    "SELECT state, wait_event FROM pg_stat_activity"
                    " WHERE application_name = 'frozen-copy'"
                )
            ).one()
        assert tuple(state) == ("active", "ClientRead")  # no timeout applies to it
        assert end_stuck_copies(engine, stuck_s=10) == 0  # not stuck long enough yet
        assert end_stuck_copies(engine, stuck_s=1) == 1
    finally:
        thread.join(20)
        frozen.close()
        engine.dispose()
    assert outcome and isinstance(outcome[0], psycopg.OperationalError), outcome


def test_only_a_lock_wait_counts() -> None:
    lock = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    assert waited_for_a_lock(lock)
    wrapped = RuntimeError("database unavailable")
    wrapped.__cause__ = lock
    assert waited_for_a_lock(wrapped)
    assert not waited_for_a_lock(psycopg.OperationalError("connection refused"))
    assert not waited_for_a_lock(None)

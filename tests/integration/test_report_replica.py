"""Reports from a PostgreSQL hot standby (``--report-database-url``) while writes go to
the primary: equal to the primary's report once the standby has caught up, and saying
how far behind it is while it lags (replay paused during a burst of writes).

The primary and its standby are real servers made by ``LocalPostgresPair``
(``initdb``, then ``pg_basebackup -R``), once for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from cli.main import cli
from consumer.embedded import ingest_events
from devservices import ServiceUnavailable
from devservices.postgres_replica import LocalPostgresPair
from infra.bootstrap import unit_of_work_factory
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from producer.simulation import SimulationConfig, simulate
from tests.conftest import _unavailable
from tests.faults.helpers import report_figures

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
AS_OF = "2030-01-01T00:00:00Z"  # after every simulated event: the whole history counts


@pytest.fixture(scope="module")
def pair() -> Iterator[LocalPostgresPair]:
    try:
        servers = LocalPostgresPair().start()
    except ServiceUnavailable as exc:
        _unavailable("a native PostgreSQL primary and standby", str(exc))  # fails under CI
    try:
        yield servers
    finally:
        servers.stop()


def report(pair: LocalPostgresPair, *, standby: bool) -> tuple[dict[str, object], str]:
    """``report --format json`` against the primary or (``--report-database-url``) standby."""
    args = ["--database-url", pair.primary.url, "report", "--format", "json", "--as-of", AS_OF]
    if standby:
        args += ["--report-database-url", pair.replica.url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def totals(report: dict[str, object]) -> dict[str, int]:
    figures = report["totals"]
    assert isinstance(figures, dict)
    return figures


def write(engine: Engine, orders: int, seed: int) -> None:
    events = simulate(SimulationConfig(orders=orders, seed=seed))
    ingest_events(events, unit_of_work_factory(engine), batch_size=500)


def wait_caught_up(standby: Engine, primary: Engine, timeout_s: float = 30) -> None:
    with primary.connect() as conn:
        target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    sql = text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), :t) >= 0")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with standby.connect() as conn:
            if conn.execute(sql, {"t": target}).scalar_one():
                return
        time.sleep(0.1)
    raise AssertionError(f"standby did not replay up to {target} in {timeout_s}s")


def test_a_caught_up_standby_reports_what_the_primary_reports(pair: LocalPostgresPair) -> None:
    primary, standby = make_engine(pair.primary.url), make_engine(pair.replica.url)
    upgrade(primary)
    write(primary, 300, seed=1)
    wait_caught_up(standby, primary)
    from_primary, primary_note = report(pair, standby=False)
    from_standby, standby_note = report(pair, standby=True)
    assert from_standby == from_primary
    assert totals(from_primary)["orders"] == 300  # the standby holds all the writes
    assert "standby" not in primary_note
    assert "replayed all it received" in standby_note
    with standby.connect() as conn:  # the standby is really a read-only copy
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
    primary.dispose()
    standby.dispose()


def test_a_lagging_standby_says_how_far_behind_it_is(pair: LocalPostgresPair) -> None:
    primary, standby = make_engine(pair.primary.url), make_engine(pair.replica.url)
    upgrade(primary)
    wait_caught_up(standby, primary)
    before, _ = report(pair, standby=True)
    with standby.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
        conn.commit()
    try:
        write(primary, 400, seed=2)  # the burst the standby receives but does not apply
        time.sleep(1.0)
        lagging, note = report(pair, standby=True)
        current, _ = report(pair, standby=False)
    finally:
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
            conn.commit()
    assert lagging == before  # the standby's figures miss the burst...
    assert totals(current)["orders"] == totals(before)["orders"] + 400
    # ...and the report says so
    assert "s behind" in note and "bytes of WAL not yet replayed" in note, note
    assert "replay paused" in note
    lag_s = float(note.split("standby ")[1].split(" s behind")[0])
    assert lag_s >= 1.0, note
    wait_caught_up(standby, primary)
    after, after_note = report(pair, standby=True)
    assert after == current and "replayed all it received" in after_note
    report_figures("replica-lag", note=note.strip().removeprefix("note: "), lag_s=lag_s)
    primary.dispose()
    standby.dispose()

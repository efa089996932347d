"""``ingest`` and ``demo`` summaries through the real CLI: final-state figures read from
the database after the run, the same ones ``report`` prints."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from infra.db.engine import make_engine
from producer.faults import FaultConfig, inject_faults
from producer.files import write_jsonl
from producer.simulation import SimulationConfig, simulate
from tests.support.cli import SLA_PIPELINE


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return env | {"SLA_DATABASE_URL": f"sqlite:///{tmp_path / 'sla.db'}"}


def _run(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [*SLA_PIPELINE, *args], cwd=tmp_path, env=_env(tmp_path), capture_output=True, timeout=240
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _database_figures(tmp_path: Path) -> tuple[int, int, int, int]:
    """orders, awaiting creation, events, illegal transitions: straight from the tables."""
    engine = make_engine(_env(tmp_path)["SLA_DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM sales),"
                " (SELECT count(*) FROM sales WHERE awaiting_creation),"
                " (SELECT count(*) FROM order_history),"
                " (SELECT count(*) FROM order_history WHERE legal = 0)"
            )
        ).one()
    engine.dispose()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))


@pytest.mark.timeout(300)
def test_ingest_of_a_shuffled_stream_prints_the_final_state(tmp_path: Path) -> None:
    stream = inject_faults(
        simulate(SimulationConfig(orders=400, seed=11)), FaultConfig(illegal_rate=0.03), 11
    )
    messages = list(stream.messages)
    random.Random(3).shuffle(messages)  # most status changes now arrive before their order
    write_jsonl(messages, tmp_path / "events.jsonl")
    out = _run(tmp_path, "ingest", str(tmp_path / "events.jsonl"))
    orders, awaiting, events, illegal = _database_figures(tmp_path)
    assert orders == 400 and awaiting == 0 and illegal > 0
    expected = (
        f"{orders} orders ({awaiting} awaiting creation), {events} events, "
        f"{illegal} illegal transitions recorded"
    )
    assert expected in out, out
    assert "orphaned" not in out and "on arrival" not in out


@pytest.mark.timeout(300)
def test_demo_prints_the_reports_figures(tmp_path: Path) -> None:
    out = _run(tmp_path, "demo", "--orders", "600", "--seed", "5")
    orders, awaiting, events, illegal = _database_figures(tmp_path)
    assert f"{orders} orders ({awaiting} awaiting creation), {events} events, {illegal} " in out
    as_of = re.search(r"report --as-of (\S+)`", out)
    assert as_of is not None, out
    totals = json.loads(_run(tmp_path, "report", "--as-of", as_of[1], "--format", "json"))["totals"]
    words = {"met": "delivered on time", "missed": "delivered late", "lost": "lost or returned",
             "cancelled": "cancelled", "breached": "breached (open, past deadline)"}  # fmt: skip
    for state, label in words.items():
        shown = re.search(rf"^  {re.escape(label)}\s+(\d+)$", out, re.MULTILINE)
        assert shown is not None and int(shown[1]) == totals[state], (state, out)
    assert f"on-time rate {totals['on_time_rate'] * 100:.1f}%" in out

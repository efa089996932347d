"""``report --as-of T`` describes the world at T, and ``--since/--until`` window it.

The reference is a second database that only ever received the events up to T
(the file cut by event time before ingesting): its ``sales`` rows are what every
listed order must show at T, and its totals what the figures must be.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.integration import crafted_events as crafted
from tests.integration.crafted_events import AT as CRAFTED_AT
from tests.integration.crafted_events import iso

pytestmark = pytest.mark.integration

AT = iso(CRAFTED_AT)


def _cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def _ingest(url: str, path: Path, tmp: Path) -> None:
    code, _, err = _cli(url, "ingest", str(path), "--rejects", str(tmp / "rejects.jsonl"))
    assert code == 0, err


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """A SQLite database holding only the events that happened up to AT."""
    path = tmp_path / "reference.db"
    _ingest(f"sqlite:///{path}", crafted.write(tmp_path / "cut.jsonl", CRAFTED_AT), tmp_path)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def full_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database holding every event, also those after AT."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    )
    _ingest(url, crafted.write(tmp_path / "all.jsonl"), tmp_path)
    return url


def _report(url: str, *args: str) -> dict[str, Any]:
    code, out, err = _cli(url, "report", "--as-of", AT, "--format", "json", "--limit", "10000",
                          *args)  # fmt: skip
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _reference_sales(path: Path) -> dict[str, tuple[str, str | None, int]]:
    """Per order: status, shipped_at (ISO text) and failed attempts, read with sqlite3.

    SQLite stores a time as integer microseconds since 1970 UTC."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT order_id, status, shipped_at, failed_attempts FROM sales")
        return {r[0]: (r[1], _from_micros(r[2]), r[3]) for r in rows}


def _from_micros(micros: int | None) -> str | None:
    if micros is None:
        return None
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)).isoformat()


def _iso(text: str | None) -> str | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None).isoformat(" ")


def test_listed_orders_show_their_state_at_as_of(full_url: str, reference: Path) -> None:
    full = _report(full_url)
    cut = _report(f"sqlite:///{reference}")
    assert full["totals"] == cut["totals"]
    assert full["at_risk"]["total"] > 0
    assert full["at_risk"] == cut["at_risk"]
    then = _reference_sales(reference)
    for order in full["at_risk"]["orders"]:
        status, shipped, failed = then[order["order_id"]]
        assert order["status"] == status, order["order_id"]
        assert _iso(order["shipped_at"]) == (shipped and _iso(shipped))
        assert order["failed_attempts"] == failed
    # The reference must be able to catch a current status leaking into the past.
    code, out, _ = _cli(full_url, "report", "--format", "json", "--limit", "10000")
    assert code == 0 and json.loads(out)["at_risk"]["total"] == 0  # every order ended since
    statuses = {o["status"] for o in full["at_risk"]["orders"]}
    assert "delivered" not in statuses and "returned_to_sender" not in statuses


def test_since_until_window_counts_orders_created_in_it(full_url: str) -> None:
    since, until = "2025-01-01T05:00:00Z", "2025-01-01T10:30:00Z"
    low, high = (datetime.fromisoformat(t) for t in (since, until))
    created = [e for e in crafted.events() if e["event_type"] == "order-created"]
    expected = sum(
        1 for e in created if low <= datetime.fromisoformat(str(e["occurred_at"])) < high
    )
    doc = _report(full_url, "--since", since, "--until", until, "--by", "tier")
    assert 0 < expected < len(created)
    assert doc["totals"]["orders"] == expected
    assert doc["created_since"] == "2025-01-01T05:00:00Z"
    assert sum(r["orders"] for r in doc["breakdowns"][0]["rows"]) == expected


def test_since_after_until_is_one_line(full_url: str) -> None:
    code, _, err = _cli(full_url, "report", "--since", "2025-01-07", "--until", "2025-01-06")
    assert code == 1 and err.startswith("error: --since") and err.count("\n") == 1

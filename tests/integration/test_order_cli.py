"""``sla-pipeline order``: one order's story through the real CLI, on both backends.

The expectations are written from the crafted stream's definition (tier standard:
a 5-day promise, no business days) and docs/sla.md, not from ``domain.sla``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.integration import crafted_events as crafted
from tests.integration.crafted_events import AT, BASE, iso

pytestmark = pytest.mark.integration


def _cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    )
    path = crafted.write(tmp_path / "all.jsonl")
    code, _, err = _cli(url, "ingest", str(path), "--rejects", str(tmp_path / "r.jsonl"))
    assert code == 0, err
    return url


def _story(url: str, order: str, *args: str) -> dict[str, Any]:
    code, out, err = _cli(url, "order", order, "--format", "json", *args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_full_story_in_precedence_order(url: str) -> None:
    order = crafted.order_id(4)  # 4 % 3 == 1: one failure, then returned to sender
    created = BASE + timedelta(hours=4)
    doc = _story(url, order)
    statuses = [e["status"] for e in doc["events"]]
    assert statuses == [
        "pending", "approved", "processing", "packed", "shipped", "in_transit",
        "out_for_delivery", "delivery_failed", "returned_to_sender",
    ]  # fmt: skip
    times = [e["occurred_at"] for e in doc["events"]]
    assert times == sorted(times) and times[0] == iso(created)
    assert all(e["legal"] is True for e in doc["events"])
    assert all(e["ingested_at"] and e["duplicates_received"] is None for e in doc["events"])
    assert doc["status"] == "returned_to_sender" and doc["failed_attempts"] == 1
    assert doc["sla"]["state"] == "lost" and "returned" in doc["sla_rule"]
    assert "not recorded per event" in doc["duplicates_note"]
    deadline = iso(created + timedelta(days=5))
    # After the creation: on track, the whole 5-day window left.
    first = doc["events"][0]["sla"]
    assert first["state"] == "on_track" and first["deadline_at"] == deadline
    assert first["remaining_s"] == timedelta(days=5).total_seconds()
    # After the failure (4 d 18 h in): at risk for the failure, 6 h left.
    failed = doc["events"][7]["sla"]
    assert failed["state"] == "at_risk" and failed["at_risk_reason"] == "delivery_failed"
    assert failed["remaining_s"] == timedelta(hours=6).total_seconds()


def test_story_as_of_ends_at_that_instant(url: str) -> None:
    order = crafted.order_id(0)  # delivered after AT
    doc = _story(url, order, "--as-of", iso(AT))
    assert doc["events"][-1]["status"] == "delivery_failed"
    assert doc["later_events"] == 2 and doc["status"] == "delivery_failed"
    assert doc["sla"]["state"] == "breached"
    assert doc["sla"]["remaining_s"] == -timedelta(days=1).total_seconds()
    code, out, _ = _cli(url, "order", order)
    assert code == 0 and "status: delivered" in out and "SLA: missed" in out


def test_unknown_order_is_one_error_line(url: str) -> None:
    code, out, err = _cli(url, "order", "NO-SUCH-ORDER")
    assert code == 1 and out == ""
    assert err.startswith("error: order 'NO-SUCH-ORDER'") and err.count("\n") == 1

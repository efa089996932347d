"""What ``sla-pipeline report`` says, through the real CLI: notes, reasons, due times,
rounding, and full values when the output is a file or a pipe."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from tests.support.report_data import AS_OF, load, make_orders

pytestmark = pytest.mark.integration

ORDERS = make_orders(seed=5, count=300)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database holding :data:`ORDERS`."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    load(engine, ORDERS)
    engine.dispose()
    return url


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database-url", url, "report", *args])
    return result.exit_code, result.stdout, result.stderr


def report_json(url: str, as_of: datetime | str, *args: str) -> dict[str, Any]:
    at = as_of if isinstance(as_of, str) else as_of.isoformat()
    code, out, err = run(url, "--as-of", at, "--format", "json", "--limit", "100000", *args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_a_far_as_of_is_said_once_and_the_data_time_is_not(database_url: str) -> None:
    milestones = ("created_at", "shipped_at", "out_for_delivery_at", "first_failed_at",
                  "delivered_at", "returned_at", "lost_at", "cancelled_at")  # fmt: skip
    newest = max(
        at for order, _, _ in ORDERS for name in milestones if (at := getattr(order, name))
    )
    newest = max(newest, AS_OF - timedelta(days=1))  # the order awaiting creation (``load``)
    late = newest + timedelta(days=30, hours=1)
    code, out, err = run(database_url, "--as-of", late.isoformat())
    assert code == 0 and "note:" not in out
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "30 days after the newest event" in notes[0], err
    assert "--as-of" in notes[0]
    doc = report_json(database_url, late)
    assert "30 days after the newest event" in doc["as_of_note"]
    # a report at the data's own time has nothing to say about it
    code, _, err = run(database_url, "--as-of", AS_OF.isoformat())
    assert code == 0 and "note:" not in err
    assert report_json(database_url, AS_OF)["as_of_note"] is None


def test_orders_placed_after_the_as_of_are_counted(database_url: str) -> None:
    expected = sum(order.created_at > AS_OF for order, _, _ in ORDERS)
    assert expected > 0  # the generated orders run past AS_OF
    doc = report_json(database_url, AS_OF)
    assert doc["orders_after_as_of"] == expected
    code, out, _ = run(database_url, "--as-of", AS_OF.isoformat())
    assert code == 0
    assert f"{expected} orders placed after the as-of time are not counted" in out


def test_every_listed_order_has_a_reason(database_url: str) -> None:
    orders = report_json(database_url, AS_OF)["at_risk"]["orders"]
    breached = [o for o in orders if o["sla_state"] == "breached"]
    assert breached and len(breached) < len(orders)
    assert all(o["reason"] == "deadline passed, not delivered" for o in breached)
    assert all(o["reason"] for o in orders)
    not_shipped = [o for o in orders if o["at_risk_reason"] == "not_shipped"]
    hours = {"economy": 72, "standard": 48, "express": 24, "same_day": 6}  # docs/sla.md
    for o in not_shipped:
        assert o["reason"] == f"not shipped within {hours[o['shipping_tier']]} h"
    code, out, _ = run(database_url, "--as-of", AS_OF.isoformat(), "--limit", "100000")
    assert code == 0
    rows = [line for line in out.splitlines() if line.strip().startswith(breached[0]["order_id"])]
    assert len(rows) == 1 and "deadline passed, not delivered" in rows[0]


def test_an_order_due_at_the_as_of_is_due_now(database_url: str) -> None:
    orders = report_json(database_url, AS_OF)["at_risk"]["orders"]
    # still in the warehouse at its deadline: listed (at risk) when judged at the deadline
    order = next(o for o in orders if o["shipped_at"] is None and o["sla_state"] == "breached")
    deadline = order["deadline_at"]
    at_deadline = report_json(database_url, deadline)["at_risk"]["orders"]
    assert [o["lateness_s"] for o in at_deadline if o["order_id"] == order["order_id"]] == [0.0]
    code, out, _ = run(database_url, "--as-of", deadline, "--limit", "100000")
    assert code == 0 and "-0.0" not in out
    row = next(line for line in out.splitlines() if order["order_id"] in line)
    assert row.rstrip().endswith("due now"), row


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def test_json_and_csv_figures_carry_no_float_noise(database_url: str) -> None:
    doc = report_json(database_url, AS_OF, "--by", "carrier")
    rows = [doc["totals"], *doc["breakdowns"][0]["rows"], *doc["at_risk"]["orders"]]
    seconds = [v for r in rows for k, v in r.items() if k.endswith("_s") and v is not None]
    rates = [r["on_time_rate"] for r in rows if r.get("on_time_rate") is not None]
    assert seconds and rates
    assert max(_decimals(v) for v in seconds) <= 3
    assert max(_decimals(v) for v in rates) <= 6
    code, out, _ = run(database_url, "--as-of", AS_OF.isoformat(), "--format", "csv")
    assert code == 0
    cells = [c for row in csv.DictReader(io.StringIO(out)) for k, c in row.items() if "." in c]
    assert cells and max(len(c.split(".")[1]) for c in cells) <= 6


def test_a_table_written_to_a_file_or_pipe_is_never_cut(database_url: str, tmp_path: Path) -> None:
    doc = report_json(database_url, AS_OF, "--by", "carrier,region")
    argv = [sys.executable, "-c", "from cli.main import main; main()",
            "--database-url", database_url, "report", "--as-of", AS_OF.isoformat(),
            "--by", "carrier,region", "--limit", "100000"]  # fmt: skip
    target = tmp_path / "report.txt"
    with target.open("w", encoding="utf-8") as out:
        to_file = subprocess.run(argv, stdout=out, text=True, timeout=120, check=False)
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert to_file.returncode == piped.returncode == 0
    for text in (target.read_text(encoding="utf-8"), piped.stdout):
        assert "…" not in text
        for row in doc["breakdowns"][0]["rows"]:
            assert any(
                row["carrier"] in line and row["region"] in line for line in text.splitlines()
            )
        for order in doc["at_risk"]["orders"]:
            assert order["order_id"] in text and order["reason"] in text

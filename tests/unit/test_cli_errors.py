"""What a new user meets first: bad files, bad settings, no broker, no database.

Each failure goes through the real program (a subprocess, as a user runs it) and
must be one ``error:`` line, a non-zero exit and no traceback.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.cli import error_line, run


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def event_files(tmp_path: Path) -> Path:
    """orders_new.csv and logistics_updates.csv of a small clean simulation."""
    done = run(tmp_path, "generate", "--orders", "40", "--out", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "data"


def order_history_count(tmp_path: Path) -> int:
    if not (tmp_path / "cli.db").exists():
        return 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        return int(conn.execute("SELECT count(*) FROM order_history").fetchone()[0])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.txt", b"hello\nworld\n", "not an event file"),
        ("empty.csv", b"", "empty file"),
        ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "not an event file"),
    ],
)
def test_ingest_of_a_file_that_is_not_events(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / name).write_bytes(content)
    line = error_line(run(tmp_path, "ingest", name))
    assert line.startswith(f"error: {name}: {reason}")


def test_ingest_checks_csv_headers_before_applying_anything(
    tmp_path: Path, event_files: Path
) -> None:
    orders = (event_files / "orders_new.csv").read_text().splitlines()
    header = orders[0].split(",")
    dropped = [header.index("occurred_at"), header.index("carrier")]
    cut = [",".join(c for i, c in enumerate(row.split(",")) if i not in dropped) for row in orders]
    (tmp_path / "cut.csv").write_text("\n".join(cut) + "\n")
    updates = str(event_files / "logistics_updates.csv")
    line = error_line(run(tmp_path, "ingest", updates, "cut.csv"))
    assert "cut.csv" in line and "occurred_at" in line and "carrier" in line
    assert order_history_count(tmp_path) == 0  # the good file was not applied either


def test_ingest_of_garbage_fails_and_summarises_rejects(tmp_path: Path) -> None:
    rows = [f"garbage {n}" for n in range(30)] + ['{"event_type": "order-created"}'] * 3
    (tmp_path / "junk.jsonl").write_text("\n".join(rows) + "\n")
    done = run(tmp_path, "ingest", "--rejects", "bad.jsonl", "junk.jsonl")
    assert "no valid events" in error_line(done) and done.returncode == 1
    shown = [line for line in done.stderr.splitlines() if ": rejected (" in line]
    assert len(shown) == 5
    assert "invalid_json 30" in done.stderr and "missing_field 3" in done.stderr
    written = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert len(written) == len(rows)  # every reject kept, not only the shown ones


def test_ingest_fails_above_the_reject_ratio_but_applies_valid_rows(
    tmp_path: Path, event_files: Path
) -> None:
    updates = (event_files / "logistics_updates.csv").read_text().splitlines()
    header, body = updates[0], updates[1:]
    bad = ["1,not-a-uuid,1,o-1,2024-01-01T00:00:00+00:00,shipped"] * (len(body) // 2 + 1)
    (tmp_path / "mixed.csv").write_text("\n".join([header, *body, *bad]) + "\n")
    ratio = (len(bad)) / (len(body) + len(bad))
    ok = run(tmp_path, "ingest", "mixed.csv", "--max-reject-ratio", f"{ratio + 0.01:.2f}")
    assert ok.returncode == 0, ok.stderr
    assert order_history_count(tmp_path) == len(body)
    too_many = run(tmp_path, "ingest", "mixed.csv", "--max-reject-ratio", f"{ratio - 0.01:.2f}")
    assert "--max-reject-ratio" in error_line(too_many) and too_many.returncode == 1
    assert f"{len(bad)} rejected rows written to rejects.jsonl" in too_many.stdout


def test_ingest_logs_progress_when_stderr_is_not_a_terminal(
    tmp_path: Path, event_files: Path
) -> None:
    files = [str(event_files / "orders_new.csv"), str(event_files / "logistics_updates.csv")]
    done = run(tmp_path, "ingest", "--progress-interval", "0", *files)
    assert done.returncode == 0, done.stderr
    rows = sum(len(Path(f).read_text().splitlines()) - 1 for f in files)
    assert f"ingest: {rows}/{rows} rows (100%)" in done.stderr


def test_a_bad_setting_is_named_in_one_line(tmp_path: Path) -> None:
    done = run(tmp_path, "ingest", "x.csv", SLA_BATCH_SIZE="0")
    assert error_line(done) == (
        "error: invalid configuration: SLA_BATCH_SIZE: Input should be greater than or equal to 1"
    )


def test_a_kafka_setting_does_not_stop_a_command_without_kafka(tmp_path: Path) -> None:
    bad = {"SLA_KAFKA_CONFIG": "{bad json"}
    assert run(tmp_path, "db", "upgrade").returncode == 0
    report = run(tmp_path, "report", "--format", "json", **bad)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)  # the report itself, untouched by the warning
    assert "SLA_KAFKA_CONFIG" in report.stderr and "not valid JSON" in report.stderr
    topics = run(tmp_path, "topics", "create", **bad)
    assert error_line(topics).startswith("error: invalid configuration: SLA_KAFKA_CONFIG")


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "create"],
        ["dlq", "list"],
        ["dlq", "redrive", "--all"],
        ["produce", "--orders", "3"],
        ["replay", "{files}/orders_new.csv"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_dead_broker_is_named_quickly_in_one_line(
    tmp_path: Path, event_files: Path, args: list[str]
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    args = [a.replace("{files}", str(event_files)) for a in args]
    started = time.monotonic()
    done = run(tmp_path, *args, SLA_KAFKA_BOOTSTRAP_SERVERS=address)
    elapsed = time.monotonic() - started
    assert error_line(done).startswith(f"error: cannot reach Kafka at {address}: ")
    assert "Connection refused" in done.stderr
    assert "%3|" not in done.stderr and "FAIL" not in done.stderr  # no librdkafka lines
    assert elapsed < 20  # ~10 s budget plus interpreter start on a busy machine


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://sla:pw@127.0.0.1:{port}/sla", "Connection refused"),
        ("postgresql://sla:pw@no-such-host.invalid/sla", "no-such-host.invalid"),
    ],
)
@pytest.mark.parametrize("command", [["report"], ["db", "upgrade"], ["ingest", "x.jsonl"]])
def test_an_unreachable_database_is_not_mistaken_for_an_unmigrated_one(
    tmp_path: Path, url: str, reason: str, command: list[str]
) -> None:
    (tmp_path / "x.jsonl").write_text("")
    url = url.format(port=closed_port())
    line = error_line(run(tmp_path, *command, SLA_DATABASE_URL=url))
    masked = url.replace(":pw@", ":***@")
    assert line.startswith(f"error: cannot connect to the database at {masked}: ")
    assert reason in line and "db upgrade" not in line and ":pw@" not in line


def test_an_unmigrated_database_hints_at_db_upgrade(tmp_path: Path) -> None:
    line = error_line(run(tmp_path, "report"))
    assert "no such table" in line and "has `sla-pipeline db upgrade` been run?" in line

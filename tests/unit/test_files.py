"""CSV and JSONL files: byte-identical per seed, faithful round trips, no silent skips."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from domain.codec import RejectReason, encode_event, event_to_json_dict
from domain.events import ORDER_CREATED
from producer.faults import FaultConfig
from producer.file_reader import EventFileError, read_event_files
from producer.files import (
    ORDERS_FILE,
    SEQ,
    UPDATE_COLUMNS,
    UPDATES_FILE,
    jsonl_line,
    write_csv,
    write_csv_events,
    write_jsonl,
    write_jsonl_lines,
)
from producer.messages import event_time_ms, message_for
from producer.publish import planned_events, planned_lines, planned_messages
from producer.simulation import SimulationConfig, simulate

FAULTS = FaultConfig(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.01)


def _generate(out: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["generate", "--out", str(out), *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, file_format: str) -> None:
    args = ["--orders", "300", "--seed", "4", "--format", file_format, "--duplicate-rate", "0.05"]
    args += ["--malformed-rate", "0.05", "--late-rate", "0.05"]
    _generate(tmp_path / "a", *args)
    _generate(tmp_path / "b", *args)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("faults", [FaultConfig(), FAULTS])
def test_messages_carry_the_codec_encoding(faults: FaultConfig) -> None:
    for message in planned_messages(SimulationConfig(orders=300, seed=7), faults):
        if message.event is not None:
            assert message.value == encode_event(message.event)
            assert message.timestamp_ms == event_time_ms(message.event)


@pytest.mark.parametrize("faults", [FaultConfig(), FAULTS])
def test_csv_from_unencoded_messages_is_the_same(tmp_path: Path, faults: FaultConfig) -> None:
    # `generate --format csv` writes events, never encoded values: the files must not change
    config = SimulationConfig(orders=300, seed=13)
    write_csv(planned_messages(config, faults), tmp_path / "a")
    write_csv(planned_messages(config, faults, encode=False), tmp_path / "b")
    summary = write_csv_events(planned_events(config, faults), tmp_path / "c")
    for name in (ORDERS_FILE, UPDATES_FILE):
        expected = (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).read_bytes() == expected
        assert (tmp_path / "c" / name).read_bytes() == expected
    assert summary.skipped == sum(m.event is None for m in planned_messages(config, faults))


@pytest.mark.parametrize("faults", [FaultConfig(), FAULTS])
def test_jsonl_from_planned_lines_is_the_same(tmp_path: Path, faults: FaultConfig) -> None:
    # `generate --format jsonl` encodes a clean simulation's events without messages
    config = SimulationConfig(orders=300, seed=15)
    write_jsonl(planned_messages(config, faults), tmp_path / "a.jsonl")
    summary = write_jsonl_lines(planned_lines(config, faults), tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    assert summary.written == len((tmp_path / "a.jsonl").read_bytes().splitlines())


def test_update_rows_are_what_csv_writer_writes(tmp_path: Path) -> None:
    # update rows are formatted by hand for speed; they must match csv.writer's output
    messages = list(planned_messages(SimulationConfig(orders=300, seed=12), FAULTS))
    write_csv(messages, tmp_path)
    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(UPDATE_COLUMNS)
    for seq, message in enumerate(messages):
        if message.event is not None and message.topic_kind == "status-changed":
            doc = {**event_to_json_dict(message.event), SEQ: seq}
            writer.writerow([doc[c] for c in UPDATE_COLUMNS])
    written = (tmp_path / UPDATES_FILE).read_bytes()
    assert written == expected.getvalue().encode("utf-8")


def test_update_rows_keep_the_encoded_time_of_any_offset(tmp_path: Path) -> None:
    # UTC times take a hand-made path; other offsets and whole seconds must read the same
    events = [
        e for e in simulate(SimulationConfig(orders=5, seed=14)) if e.event_type != ORDER_CREATED
    ]
    moments = [
        datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2025, 3, 1, 9, 30, 0, 1, tzinfo=UTC),
        datetime(2025, 3, 1, 9, 30, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
        datetime(2025, 3, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2025, 3, 1, 9, 30, 5, 7, tzinfo=UTC),
    ]
    shifted = [
        e.model_copy(update={"occurred_at": m}) for e, m in zip(events, moments, strict=False)
    ]
    write_csv([message_for(e) for e in shifted], tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / UPDATES_FILE).read_text(encoding="utf-8"))))
    assert [row["occurred_at"] for row in rows] == [
        event_to_json_dict(e)["occurred_at"] for e in shifted
    ]
    assert [(row["event_id"], row["status"]) for row in rows] == [
        (str(e.event_id), event_to_json_dict(e)["status"]) for e in shifted
    ]


def test_csv_round_trip_gives_the_same_events_in_publish_order(tmp_path: Path) -> None:
    messages = list(planned_messages(SimulationConfig(orders=400, seed=8), FAULTS))
    summary = write_csv(messages, tmp_path)
    records = list(read_event_files([tmp_path / UPDATES_FILE, tmp_path / ORDERS_FILE]))
    assert all(r.error is None for r in records)
    expected = [m.value for m in messages if m.event is not None]
    assert [encode_event(r.event) for r in records if r.event] == expected
    assert summary.written == len(expected)
    assert summary.skipped == len(messages) - len(expected)


def test_jsonl_round_trip_keeps_malformed_lines(tmp_path: Path) -> None:
    messages = list(planned_messages(SimulationConfig(orders=400, seed=9), FAULTS))
    path = tmp_path / "events.jsonl"
    summary = write_jsonl(messages, path)
    kept = [m for m in messages if jsonl_line(m) is not None]
    records = list(read_event_files([path]))
    assert [r.raw for r in records] == [m.value for m in kept]
    for record, message in zip(records, kept, strict=True):
        if message.expected_reason is None:
            assert record.event == message.event
        else:
            assert record.error is not None and record.error.reason is message.expected_reason
    assert summary.skipped == len(messages) - len(kept)
    key_faults = {RejectReason.KEY_MISMATCH, RejectReason.MISSING_KEY}  # a file row has no key
    assert summary.skipped == sum(m.expected_reason in key_faults for m in messages)


def test_bad_rows_are_reported_with_line_and_reading_goes_on(tmp_path: Path) -> None:
    messages = list(planned_messages(SimulationConfig(orders=20, seed=1), FaultConfig()))
    write_csv(messages, tmp_path)
    path = tmp_path / UPDATES_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",approved", ",teleported")
    lines[4] = "not,enough,fields"
    lines[6] = lines[6].replace(",1,ORD", ",x,ORD")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = list(read_event_files([path]))
    assert len(records) == len(lines) - 1
    bad = {r.line: r.error.reason for r in records if r.error is not None}
    assert bad == {
        3: RejectReason.UNKNOWN_STATUS,
        5: RejectReason.INVALID_FIELD,
        7: RejectReason.UNSUPPORTED_SCHEMA_VERSION,
    }
    assert records[1].raw.decode() == lines[2]


def test_unknown_files_fail_loudly(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(EventFileError):
        read_event_files([other])
    with pytest.raises(EventFileError):
        read_event_files([tmp_path / "missing.jsonl"])
    repeated = tmp_path / UPDATES_FILE
    repeated.write_text(",".join([*UPDATE_COLUMNS, "occurred_at"]) + "\n", encoding="utf-8")
    with pytest.raises(EventFileError, match="'occurred_at' appears more than once"):
        read_event_files([repeated])


def test_generate_rejects_bad_arguments(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["generate", "--orders", "5", "--start", "2025-01-01T00:00", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "UTC offset" in result.output
    assert "Traceback" not in result.output


def _order_ids(out: Path) -> set[str]:
    with (out / ORDERS_FILE).open(encoding="utf-8", newline="") as handle:
        return {row["order_id"] for row in csv.DictReader(handle)}


def test_runs_without_a_seed_never_share_order_ids(tmp_path: Path) -> None:
    # a second run into the same database must add orders, not merge into the first run's
    for run in ("a", "b"):
        _generate(tmp_path / run, "--orders", "50")
    first, second = _order_ids(tmp_path / "a"), _order_ids(tmp_path / "b")
    assert len(first) == len(second) == 50
    assert not first & second


def test_an_explicit_seed_repeats_the_order_ids(tmp_path: Path) -> None:
    for run in ("a", "b"):
        _generate(tmp_path / run, "--orders", "50", "--seed", "9")
    assert _order_ids(tmp_path / "a") == _order_ids(tmp_path / "b")


def test_a_run_without_a_seed_says_which_seed_repeats_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", "--orders", "5", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    seed = result.stdout.splitlines()[1].split()[1]
    _generate(tmp_path / "b", "--orders", "5", "--seed", seed)
    assert _order_ids(tmp_path / "b") == _order_ids(tmp_path / "a")
    assert all(oid.startswith(f"ORD-{seed}-") for oid in _order_ids(tmp_path / "a"))


#: (column, CSV cell, reason): the contract holds for a CSV cell as for a JSON value.
HOSTILE_CELLS = [
    ("occurred_at", "9999-12-31T23:59:59-12:00", RejectReason.TIME_OUT_OF_RANGE),
    ("occurred_at", "0001-01-01T00:00:00+14:00", RejectReason.TIME_OUT_OF_RANGE),
    ("occurred_at", "1969-12-31T23:59:59.999999Z", RejectReason.TIME_OUT_OF_RANGE),
    ("occurred_at", "1736157600", RejectReason.INVALID_FIELD),
    ("schema_version", "true", RejectReason.UNSUPPORTED_SCHEMA_VERSION),
    ("schema_version", "1.0", RejectReason.UNSUPPORTED_SCHEMA_VERSION),
    ("schema_version", "\u00b2", RejectReason.UNSUPPORTED_SCHEMA_VERSION),  # isdigit, not int
    ("schema_version", "9" * 5000, RejectReason.UNSUPPORTED_SCHEMA_VERSION),
    (SEQ, "\u00b2", RejectReason.INVALID_FIELD),
]


def test_csv_cells_meet_the_wire_contract_and_reading_goes_on(tmp_path: Path) -> None:
    changes = [
        e for e in simulate(SimulationConfig(orders=12, seed=3)) if e.event_type != ORDER_CREATED
    ]
    rows = [
        {SEQ: str(n), **{k: str(v) for k, v in event_to_json_dict(e).items()}}
        for n, e in enumerate(changes[: 2 * len(HOSTILE_CELLS)], start=1)
    ]
    for row, (column, cell, _reason) in zip(rows[::2], HOSTILE_CELLS, strict=True):
        row[column] = cell
    path = tmp_path / UPDATES_FILE
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, UPDATE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    records = list(read_event_files([path]))
    assert [r.error.reason if r.error else None for r in records[::2]] == [
        reason for _column, _cell, reason in HOSTILE_CELLS
    ]
    assert [r.event for r in records[1::2]] == changes[1 : 2 * len(HOSTILE_CELLS) : 2]

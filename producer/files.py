"""Event files: CSV (``orders_new.csv`` + ``logistics_updates.csv``) and JSON Lines.

Writers take messages in publish order; ``publish_seq`` (CSV) or the line
order (JSONL) keeps that order so a replay reproduces the stream. Readers
never stop at a bad row: every row comes back as a :class:`FileRecord` with
either an event or the :class:`~domain.codec.EventDecodeError` that explains it.
The formats are documented in ``docs/files.md``.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from domain.codec import (
    EventDecodeError,
    RejectReason,
    decode_event,
    decode_payload,
)
from domain.events import ORDER_CREATED, STATUS_CHANGED, Event, OrderCreated
from producer.messages import OutgoingMessage

ORDERS_FILE = "orders_new.csv"
UPDATES_FILE = "logistics_updates.csv"
SEQ = "publish_seq"
ORDER_COLUMNS = (
    SEQ,
    "event_id",
    "schema_version",
    "order_id",
    "occurred_at",
    "customer_id",
    "customer_name",
    "product_sku",
    "product_name",
    "quantity",
    "unit_price",
    "currency",
    "shipping_tier",
    "carrier",
    "destination_region",
    "promised_delivery_at",
)
UPDATE_COLUMNS = (SEQ, "event_id", "schema_version", "order_id", "occurred_at", "status")
#: csv.writer's default (excel dialect) line terminator; update rows are written by hand.
_CSV_LINE_END = "\r\n"
#: JSON forms of an event id and an event time, as the event models serialize them
_ID_AND_TIME = TypeAdapter(tuple[UUID, datetime]).serializer
_INTEGER_COLUMNS = frozenset({"schema_version", "quantity"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})

Progress = Callable[[int], None]
_event_of = operator.attrgetter("event")


class EventFileError(Exception):
    """A whole file cannot be read: missing, unreadable, or neither CSV nor JSONL events."""


@dataclass(frozen=True, slots=True)
class WriteSummary:
    """What a writer wrote, and how many messages it could not represent (skipped)."""

    paths: tuple[Path, ...]
    written: int
    skipped: int


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One row of an event file: exactly one of ``event`` and ``error`` is set.

    ``line`` is the 1-based physical line the row starts on; ``raw`` its bytes
    (without the line end); ``seq`` the CSV ``publish_seq`` when there is one.
    """

    path: Path
    line: int
    raw: bytes
    event: Event | None
    error: EventDecodeError | None
    seq: int | None = None


# -- writing -----------------------------------------------------------------------------


def write_csv(
    messages: Iterable[OutgoingMessage], directory: Path, progress: Progress | None = None
) -> WriteSummary:
    """:func:`write_csv_events` of the messages' events (malformed ones have none)."""
    return write_csv_events(map(_event_of, messages), directory, progress)


def write_csv_events(
    events: Iterable[Event | None], directory: Path, progress: Progress | None = None
) -> WriteSummary:
    """Write ``DIR/orders_new.csv`` and ``DIR/logistics_updates.csv``.

    ``events`` come in publish order; ``None`` stands for a malformed message, which
    has no CSV form: it is skipped (counted) but keeps its ``publish_seq``. Taking
    events rather than messages spares a clean simulation a message per event, a
    tenth of the cost of writing it. Raises ``OSError``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    orders_path, updates_path = directory / ORDERS_FILE, directory / UPDATES_FILE
    written = skipped = 0
    with (
        orders_path.open("w", newline="", encoding="utf-8") as orders_file,
        updates_path.open("w", newline="", encoding="utf-8") as updates_file,
    ):
        orders = csv.writer(orders_file)
        orders.writerow(ORDER_COLUMNS)
        csv.writer(updates_file).writerow(UPDATE_COLUMNS)
        write_update, id_and_time = updates_file.write, _ID_AND_TIME.to_python
        for seq, event in enumerate(events):
            if progress is not None and seq % 4096 == 0:
                progress(seq)
            if event is None:
                skipped += 1
                continue
            if event.__class__ is OrderCreated:
                # what event_to_json_dict returns, without model_dump's argument handling
                doc = event.__pydantic_serializer__.to_python(event, mode="json")
                doc[SEQ] = seq
                orders.writerow(["" if (v := doc[c]) is None else v for c in ORDER_COLUMNS])
            else:
                # formatted by hand, as csv.writer would (at twice its speed): no update
                # field needs quoting (ids match [A-Za-z0-9._:-]+, ISO times, status words).
                # Only the id and the time need pydantic's JSON form; the status is a str.
                fields = event.__dict__
                moment = (fields["event_id"], fields["occurred_at"])
                event_id, occurred_at = id_and_time(moment, mode="json")
                write_update(
                    f"{seq},{event_id},{fields['schema_version']},{fields['order_id']},"
                    f"{occurred_at},{fields['status']}{_CSV_LINE_END}"
                )
            written += 1
    return WriteSummary((orders_path, updates_path), written, skipped)


def write_jsonl(
    messages: Iterable[OutgoingMessage], path: Path, progress: Progress | None = None
) -> WriteSummary:
    """Write each message value as one line (raw bytes for malformed ones).

    A message with no :func:`jsonl_line` is skipped (counted). Raises ``OSError``.
    """
    return write_jsonl_lines(map(jsonl_line, messages), path, progress)


def jsonl_line(message: OutgoingMessage) -> bytes | None:
    """The value if it survives as one JSONL line (its fault is in the value, not the key)."""
    value = message.encoded  # the field, not the property: this runs once per message
    if value is None:
        value = message.value
    if b"\n" in value or b"\r" in value or message.expected_reason is RejectReason.KEY_MISMATCH:
        return None
    return value


def write_jsonl_lines(
    lines: Iterable[bytes | None], path: Path, progress: Progress | None = None
) -> WriteSummary:
    """Write each value as one line; ``None`` is a message JSONL cannot hold (skipped, counted).

    Raises ``OSError``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    with path.open("wb") as out:
        write = out.write
        # one line at a time: holding chunks of them alive wakes the garbage collector
        for i, value in enumerate(lines):
            if progress is not None and i % 4096 == 0:
                progress(i)
            if value is None:
                skipped += 1
                continue
            write(value)
            write(b"\n")
            written += 1
    return WriteSummary((path,), written, skipped)


# -- reading -----------------------------------------------------------------------------


def read_event_files(paths: Iterable[Path | str]) -> Iterator[FileRecord]:
    """Every row of every file, in publish order.

    When every file is a CSV with ``publish_seq`` the rows of all files are merged by
    it (each file must be in ascending order, as written); otherwise files are read one
    after the other in the order given. Every file is opened (and its format checked)
    before this returns: raises :class:`EventFileError` for a file that cannot be opened
    or is not an event file. A bad row is a record with ``error``, never an exception.
    """
    readers = [_open_reader(Path(p)) for p in paths]
    if readers and all(seq_ordered for _, seq_ordered in readers):
        return heapq.merge(*(r for r, _ in readers), key=lambda rec: rec.seq or 0)
    return itertools.chain.from_iterable(r for r, _ in readers)


def _open_reader(path: Path) -> tuple[Iterator[FileRecord], bool]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise EventFileError(f"{path}: {exc.strerror or exc}") from None
    if _is_jsonl(path, handle):
        return _read_jsonl(path, handle), False
    header = next(csv.reader([handle.readline().decode("utf-8", "replace")]), [])
    columns = [c.strip().lstrip("\ufeff") for c in header]
    if "status" in columns:
        kind = STATUS_CHANGED
    elif "customer_id" in columns:
        kind = ORDER_CREATED
    else:
        handle.close()
        raise EventFileError(f"{path}: not an event file (no 'status' or 'customer_id' column)")
    return _read_csv(path, handle, columns, kind), SEQ in columns


def _is_jsonl(path: Path, handle: io.BufferedReader) -> bool:
    if path.suffix.lower() in JSONL_SUFFIXES:
        return True
    if path.suffix.lower() == ".csv":
        return False
    return handle.peek(1)[:1] in (b"{", b"[")


def _read_jsonl(path: Path, handle: io.BufferedReader) -> Iterator[FileRecord]:
    with handle:
        for number, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue  # blank lines separate nothing and carry nothing
            try:
                yield FileRecord(path, number, raw, decode_event(raw), None)
            except EventDecodeError as exc:
                yield FileRecord(path, number, raw, None, exc)


def _read_csv(
    path: Path, handle: io.BufferedReader, columns: list[str], kind: str
) -> Iterator[FileRecord]:
    consumed: list[bytes] = []

    def lines() -> Iterator[str]:
        for line in handle:
            consumed.append(line)
            # surrogateescape keeps undecodable bytes visible to validation instead of
            # aborting the whole file
            yield line.decode("utf-8", "surrogateescape")

    line_number = 2  # the header was line 1
    seq = 0
    with handle:
        for row in csv.reader(lines()):
            raw = b"".join(consumed).rstrip(b"\r\n")
            start, line_number = line_number, line_number + len(consumed)
            consumed.clear()
            if not row or not any(cell.strip() for cell in row):
                continue
            event, error, row_seq = _parse_row(columns, row, kind)
            seq = row_seq if row_seq is not None else seq
            yield FileRecord(path, start, raw, event, error, seq)


def _parse_row(
    columns: list[str], row: list[str], kind: str
) -> tuple[Event | None, EventDecodeError | None, int | None]:
    seq: int | None = None
    if len(row) != len(columns):
        detail = f"row has {len(row)} fields, the header has {len(columns)}"
        return None, EventDecodeError(RejectReason.INVALID_FIELD, detail), seq
    doc: dict[str, Any] = {"event_type": kind}
    for column, cell in zip(columns, row, strict=True):
        if cell == "":
            continue  # an empty cell is an absent field
        if not _is_utf8(cell):
            detail = f"{column}: bytes that are not UTF-8"
            return None, EventDecodeError(RejectReason.NOT_UTF8, detail), seq
        if column == SEQ:
            if not cell.strip().isdigit():
                detail = f"{SEQ}: {cell[:40]!r} is not a non-negative integer"
                return None, EventDecodeError(RejectReason.INVALID_FIELD, detail), seq
            seq = int(cell)
        elif column in _INTEGER_COLUMNS and _is_int(cell):
            doc[column] = int(cell)
        else:
            doc[column] = cell
    try:
        return decode_payload(doc), None, seq
    except EventDecodeError as exc:
        return None, exc, seq


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()

"""Read event files back: CSV (with ``publish_seq``) and JSON Lines, in publish order.

A row has no message key: its ``order_id`` is its key. A CSV row becomes the JSON
object of its non-empty cells and is decoded as a message value is, so every row is
held to the same rules, with the same reasons, as a message on a topic.

Reading never stops at a bad row: every row comes back as a :class:`FileRecord`
with either an event or the :class:`~domain.codec.EventDecodeError` that
explains it. The formats are written by :mod:`producer.files` and documented in
``docs/files.md``.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from domain.codec import (
    EventDecodeError,
    RejectReason,
    decode_payload,
    decode_with_canonical,
)
from domain.events import ORDER_CREATED, STATUS_CHANGED, Event, OrderCreated, StatusChanged
from domain.records import record
from producer.files import SEQ

_INTEGER_COLUMNS = frozenset({"schema_version", "quantity"})
# ASCII digits only (str.isdigit also takes superscripts, which int() refuses), and few
# enough that int() never meets its limit on digits; anything else stays text, which
# validation rejects exactly as it rejects the same JSON string.
_INT_TEXT = re.compile(r"-?[0-9]{1,30}")
_SEQ_TEXT = re.compile(r"[0-9]{1,30}")
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
#: Columns a CSV of each kind must have: the model's required fields (``event_type``
#: comes from the kind). Without one, every row would be rejected for the same reason.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(n for n, f in model.model_fields.items() if f.is_required() and n != "event_type")
    for kind, model in ((ORDER_CREATED, OrderCreated), (STATUS_CHANGED, StatusChanged))
}


class EventFileError(Exception):
    """A whole file cannot be read: missing, unreadable, or neither CSV nor JSONL events."""


@record
class FileRecord:
    """One row of an event file: exactly one of ``event`` and ``error`` is set.

    ``line`` is the 1-based physical line the row starts on; ``raw`` its bytes
    (without the line end); ``seq`` the CSV ``publish_seq`` when there is one;
    ``payload`` the event's canonical JSON when decoding made it (JSONL), so the
    history row is not encoded a second time.
    """

    path: Path
    line: int
    raw: bytes
    event: Event | None
    error: EventDecodeError | None
    seq: int | None = None
    payload: str | None = None


def read_event_files(paths: Iterable[Path | str]) -> Iterator[FileRecord]:
    """Every row of every file, in publish order.

    When every file is a CSV with ``publish_seq`` the rows of all files are merged by
    it (each file must be in ascending order, as written); otherwise files are read one
    after the other in the order given. Every file is opened (and its format checked)
    before this returns: raises :class:`EventFileError` for a file that cannot be opened,
    is not an event file, or is a CSV without a required column. A bad row is a record
    with ``error``, never an exception.
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
    first = handle.readline()
    if not first.strip():
        handle.close()
        raise EventFileError(f"{path}: empty file (a CSV needs a header line)")
    header = next(csv.reader([first.decode("utf-8", "replace")]), [])
    columns = [c.strip().lstrip("\ufeff") for c in header]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:  # every row would hold that field twice, as a JSON object with a repeated key
        handle.close()
        raise EventFileError(f"{path}: column {twice[0]!r} appears more than once in the header")
    if "status" in columns:
        kind = STATUS_CHANGED
    elif "customer_id" in columns:
        kind = ORDER_CREATED
    else:
        handle.close()
        raise EventFileError(f"{path}: not an event file (no 'status' or 'customer_id' column)")
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in columns]
    if missing:
        handle.close()
        raise EventFileError(f"{path}: {kind} CSV lacks required columns: {', '.join(missing)}")
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
                event, canonical = decode_with_canonical(raw)
                yield FileRecord(path, number, raw, event, None, payload=canonical.decode())
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
            if _SEQ_TEXT.fullmatch(cell.strip()) is None:
                detail = f"{SEQ}: {cell[:40]!r} is not a non-negative integer"
                return None, EventDecodeError(RejectReason.INVALID_FIELD, detail), seq
            seq = int(cell.strip())
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
    return _INT_TEXT.fullmatch(text) is not None


def count_rows(paths: Iterable[Path | str]) -> int:
    """About how many rows ``paths`` hold (line ends, less CSV headers): a progress total.

    Cheap (bytes are counted, not parsed); quoted line breaks and blank lines make it
    an upper bound. An unreadable file counts 0 (reading it reports the error).
    """
    total = 0
    for path in map(Path, paths):
        try:
            with path.open("rb") as handle:
                lines, last = 0, b"\n"
                while chunk := handle.read(1 << 20):
                    lines, last = lines + chunk.count(b"\n"), chunk[-1:]
        except OSError:
            continue
        lines += last != b"\n"  # a last line without a line end
        total += lines - (lines > 0 and path.suffix.lower() not in JSONL_SUFFIXES)
    return total

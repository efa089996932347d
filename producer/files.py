"""Event files: CSV (``orders_new.csv`` + ``logistics_updates.csv``) and JSON Lines.

Writers take messages (or events) in publish order; ``publish_seq`` (CSV) or
the line order (JSONL) keeps that order so a replay reproduces the stream.
Reading them back is :mod:`producer.file_reader`. The formats are documented
in ``docs/files.md``.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from pydantic import TypeAdapter

from domain.codec import RejectReason
from domain.events import Event, OrderCreated
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

Progress = Callable[[int], None]
_event_of = operator.attrgetter("event")


@dataclass(frozen=True, slots=True)
class WriteSummary:
    """What a writer wrote, and how many messages it could not represent (skipped)."""

    paths: tuple[Path, ...]
    written: int
    skipped: int


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


#: Faults of the message key: a file row has no key (its order_id is its key).
_KEY_FAULTS = frozenset({RejectReason.KEY_MISMATCH, RejectReason.MISSING_KEY})


def jsonl_line(message: OutgoingMessage) -> bytes | None:
    """The value if it survives as one JSONL line (its fault is in the value, not the key)."""
    value = message.encoded  # the field, not the property: this runs once per message
    if value is None:
        value = message.value
    if b"\n" in value or b"\r" in value or message.expected_reason in _KEY_FAULTS:
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

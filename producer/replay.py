"""Replay event files (CSV or JSONL) into the topics, in publish order.

Replay validates: a row that is not a valid event is not published but written
to a rejects file with its file, line, reason and raw text, and counted; the
rest of the file is still replayed. Valid rows go out keyed by order id with
their original event time in the payload (``occurred_at``); the Kafka timestamp
is the publish time, so history older than a topic's retention is not deleted
as soon as it arrives (see ``producer.publish``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from producer.file_reader import FileRecord, read_event_files
from producer.messages import OutgoingMessage, message_for
from producer.ports import EventPublisher
from producer.publish import Progress, PublishResult, TopicNames, publish

REJECTS_SUFFIX = ".rejects"


class RejectSink:
    """Writes rejected rows as JSON lines, to ``<source>.rejects`` or to one given path.

    Files are created only when there is something to write. Raises ``OSError``.
    """

    def __init__(self, single_path: Path | None = None) -> None:
        self.single_path = single_path
        self.count = 0
        self._files: dict[Path, IO[str]] = {}

    def path_for(self, source: Path) -> Path:
        return self.single_path or source.with_name(source.name + REJECTS_SUFFIX)

    @property
    def paths(self) -> list[Path]:
        return list(self._files)

    def write(self, record: FileRecord) -> None:
        path = self.path_for(record.path)
        if path not in self._files:
            self._files[path] = path.open("w", encoding="utf-8")
        error = record.error
        line = {
            "file": str(record.path),
            "line": record.line,
            "reason": error.reason.value if error else None,
            "error": error.detail if error else None,
            "raw": record.raw.decode("utf-8", "backslashreplace"),
        }
        self._files[path].write(json.dumps(line) + "\n")
        self.count += 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(slots=True)
class ReplayResult:
    """What a replay read, published and rejected."""

    rows: int = 0
    rejected: int = 0
    published: PublishResult = field(default_factory=PublishResult)
    rejects_paths: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.published.ok


def replay_messages(
    records: Iterable[FileRecord],
    rejects: RejectSink,
    on_reject: Callable[[FileRecord], None] | None = None,
    counts: ReplayResult | None = None,
) -> Iterator[OutgoingMessage]:
    """The message of each valid record; invalid ones go to ``rejects`` (and ``on_reject``)."""
    for record in records:
        if counts is not None:
            counts.rows += 1
        if record.event is None:
            rejects.write(record)
            if on_reject is not None:
                on_reject(record)
            continue
        yield message_for(record.event)


def replay(
    paths: Iterable[Path],
    publisher: EventPublisher,
    topics: TopicNames,
    rejects: RejectSink,
    *,
    speed: float | None = None,
    progress: Progress | None = None,
    on_reject: Callable[[FileRecord], None] | None = None,
) -> ReplayResult:
    """Publish every valid row of ``paths`` in publish order (see ``read_event_files``).

    ``speed=None`` sends as fast as possible; otherwise event-time gaps are divided
    by ``speed``. Raises ``producer.file_reader.EventFileError`` for an unreadable file,
    before anything is sent.
    """
    result = ReplayResult()
    records = read_event_files(paths)
    messages = replay_messages(records, rejects, on_reject, result)
    result.published = publish(messages, publisher, topics, speed=speed, progress=progress)
    result.rejected = rejects.count
    result.rejects_paths = rejects.paths
    return result

"""Scenario 7, fuzzing: arbitrary bytes, arbitrary JSON and mutated events go to the
decoder and through the worker's own loop (poll, decode, dead-letter, apply, commit)
on a real SQLite database, one bounded run per batch. Nothing raises except the
project's classified data errors: every message is either applied or rejected with a
reason code, with counts that add up, and the worker goes on.

The message source and dead-letter sink here are in-memory lists: the property is about
the decoder and the apply path, Kafka delivery is covered by the other scenarios.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from consumer.batch import Offsets, RawMessage, ReceivedEvent, Rejected, SourcePosition
from consumer.decode import decode_message
from consumer.worker import Worker, WorkerConfig
from domain.codec import EventDecodeError, RejectReason, decode_event, event_to_json_dict
from infra.bootstrap import migrated_engine, unit_of_work_factory
from infra.settings import Settings
from producer.simulation import SimulationConfig, simulate
from tests.faults.helpers import report_figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]
FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
SAMPLES = [event_to_json_dict(e) for e in simulate(SimulationConfig(orders=8, seed=5))]
FIELDS = sorted({name for doc in SAMPLES for name in doc})
TEXT_FIELDS = ["customer_name", "product_name", "destination_region"]


def classified(message: RawMessage) -> ReceivedEvent | Rejected:
    """Decode like the worker; AssertionError unless it agrees with the codec: the
    codec's event when the codec accepts the bytes, its reason code when it rejects them
    (``EventDecodeError`` is the only exception the codec may raise)."""
    decoded = decode_message(message)
    try:
        event = decode_event(message.value or b"", key=message.key)
    except EventDecodeError as error:
        assert isinstance(decoded, Rejected), f"accepted what the codec rejects: {error}"
        assert decoded.reason is error.reason and decoded.error
    else:
        assert isinstance(decoded, ReceivedEvent), f"rejected a valid event: {decoded}"
        assert decoded.event == event and decoded.source == message.position
    return decoded


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[bytes | None, bytes]:
    """A real event with fields replaced by arbitrary JSON, deleted or added."""
    doc: dict[str, Any] = dict(draw(st.sampled_from(SAMPLES)))
    doc["event_id"] = str(draw(st.uuids()))  # mostly new events, so the apply path runs
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from([*FIELDS, *TEXT_FIELDS * 3]) | st.text(max_size=10))
        action = draw(st.sampled_from(["replace", "delete", "text"]))
        if action == "delete":
            doc.pop(name, None)
        elif action == "text":
            doc[name] = draw(st.text(max_size=130))
        else:
            doc[name] = draw(JSON)
    order_key = str(doc.get("order_id", "")).encode()
    key = draw(st.just(order_key) | st.none() | st.binary(max_size=20))
    return key, json.dumps(doc).encode()


class ListSource:
    """Hands out the batches queued by the test, once each; commits are recorded."""

    def __init__(self) -> None:
        self.queued: list[list[RawMessage]] = []
        self.committed: dict[tuple[str, int], int] = {}

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        return self.queued.pop(0) if self.queued else []

    def commit(self, offsets: Offsets) -> None:
        self.committed.update(offsets)

    def lag(self) -> Mapping[tuple[str, int], int]:
        return {}

    def close(self) -> None:
        return None


class ListSink:
    def __init__(self) -> None:
        self.letters: list[Rejected] = []

    def publish(self, rejected: Sequence[Rejected]) -> None:
        self.letters.extend(rejected)


def test_decoder_classifies_arbitrary_bytes_and_json() -> None:
    started = time.monotonic()
    seen: dict[str, int] = {}

    @FUZZ
    @given(
        value=st.none() | st.binary(max_size=600) | JSON.map(lambda v: json.dumps(v).encode()),
        key=st.none() | st.binary(max_size=40),
    )
    def run(value: bytes | None, key: bytes | None) -> None:
        decoded = classified(RawMessage(SourcePosition("t", 0, 0), key, value))
        name = decoded.reason.value if isinstance(decoded, Rejected) else "applied"
        seen[name] = seen.get(name, 0) + 1

    run()
    report_figures(
        "fuzz-decoder",
        examples=sum(seen.values()),
        dead_letters=sum(v for k, v in seen.items() if k != "applied"),
        reasons=",".join(sorted(seen)),
        seconds=round(time.monotonic() - started, 1),
    )


def test_worker_batch_path_survives_mutated_events(tmp_path: Path) -> None:
    started = time.monotonic()
    engine = migrated_engine(Settings(database_url=f"sqlite:///{tmp_path / 'fuzz.db'}"))
    unit_of_work = unit_of_work_factory(engine)
    source, sink = ListSource(), ListSink()
    offset = [0]
    applied = [0]

    @FUZZ
    @given(batch=st.lists(mutated_events(), min_size=1, max_size=8))
    def run(batch: list[tuple[bytes | None, bytes]]) -> None:
        messages = []
        for key, value in batch:
            messages.append(RawMessage(SourcePosition("fuzz", 0, offset[0]), key, value))
            offset[0] += 1
        source.queued.append(messages)
        before = len(sink.letters)
        # the worker's own loop, bounded to this batch: it must not raise
        config = WorkerConfig("fuzz", max_events=len(messages), until_idle_s=5)
        summary = Worker(source, unit_of_work, sink, config).run()
        outcome, letters = summary.outcome, sink.letters[before:]
        applied[0] += outcome.applied
        assert summary.stopped_by == f"max events {len(messages)}"
        assert summary.consumed == len(messages) and summary.dead_lettered == len(letters)
        # every message is either applied (or already there) or dead-lettered with a
        # reason code; a conflicting duplicate (an id reused with other content) reaches
        # the database, is not applied, and is dead-lettered
        rejected = [r for r in letters if r.reason is not RejectReason.CONFLICTING_DUPLICATE]
        assert len(letters) - len(rejected) == outcome.conflicting
        assert outcome.applied + outcome.duplicates + outcome.conflicting == outcome.received
        assert outcome.received + len(rejected) == len(messages)
        assert all(isinstance(r.reason, RejectReason) and r.error for r in letters)
        assert source.committed[("fuzz", 0)] == offset[0]

    run()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM order_history")).scalar_one()
    engine.dispose()
    assert rows == applied[0]
    report_figures(
        "fuzz-worker",
        messages=offset[0],
        applied=applied[0],
        dead_letters=len(sink.letters),
        seconds=round(time.monotonic() - started, 1),
    )

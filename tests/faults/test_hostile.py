"""Scenario 8, hostile content: values that look like SQL, the longest allowed strings,
control characters, invisible and astral characters are stored verbatim; what breaks
the contract (too long, non-UTF-8 bytes, SQL in an identifier, a lone surrogate) is
rejected with a reason, never truncated. On SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import text

from consumer.apply import apply_batch
from consumer.batch import RawMessage, ReceivedEvent, Rejected, SourcePosition
from consumer.decode import decode_message
from domain.codec import RejectReason, encode_event
from domain.events import OrderCreated
from infra.bootstrap import migrated_engine, unit_of_work_factory
from infra.settings import Settings
from producer.simulation import SimulationConfig, simulate
from tests.faults.helpers import report_figures

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]
STORED = [
    "Robert'); DROP TABLE sales;--",
    "' OR '1'='1",
    '"; DELETE FROM order_history; --',
    "$$; TRUNCATE order_history; $$",
    "%s %(x)s {0} ? :name",
    "\\'; SELECT pg_sleep(10); --",
    "x" * 120,
    "é" * 120,
    "\U0001d518" * 120,  # astral: 4 bytes each in UTF-8
    "tab\there, line\nbreak\r\n",
    "\x1b[31mred\x1b[0m \x7f\x01\x02\x1f",
    "\u202eright-to-left \u200bzero\u200dwidth \ufeffbom",
]
NUL = "before\x00after"
SQL_ID = "ORD'; DROP TABLE sales;--"
TEXT_FIELDS = ("customer_name", "product_name", "destination_region")


def creations(count: int) -> list[OrderCreated]:
    events = simulate(SimulationConfig(orders=count, seed=8))
    found = [e for e in events if isinstance(e, OrderCreated)]
    assert len(found) == count
    return found


def message(n: int, key: bytes | None, value: bytes) -> RawMessage:
    return RawMessage(SourcePosition("hostile", 0, n), key, value)


def database_url(request: pytest.FixtureRequest, backend: str) -> str:
    return str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_database_url"))


def stored_rows(url: str) -> dict[str, tuple[Any, ...]]:
    engine = migrated_engine(Settings(database_url=url))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.order_id, s.customer_name, s.product_name, s.destination_region, "
                "h.payload FROM sales s JOIN order_history h ON h.order_id = s.order_id"
            )
        )
        result = {row[0]: tuple(row[1:]) for row in rows}
    engine.dispose()
    return result


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hostile_values_are_stored_verbatim_or_rejected(
    request: pytest.FixtureRequest, backend: str
) -> None:
    started = time.monotonic()
    url = database_url(request, backend)
    base = creations(len(STORED) * len(TEXT_FIELDS) + 6)
    stored: dict[str, tuple[str, str]] = {}
    messages: list[RawMessage] = []
    for i, (value, name) in enumerate((v, f) for v in STORED for f in TEXT_FIELDS):
        event = base[i].model_copy(update={name: value})
        stored[event.order_id] = (name, value)
        messages.append(message(i, event.order_id.encode(), encode_event(event)))
    spare = base[len(messages) :]
    valid = encode_event(spare[0]).decode()
    too_long = json.loads(valid) | {"order_id": spare[1].order_id, "customer_name": "y" * 121}
    bad: list[tuple[bytes, bytes, RejectReason]] = [
        (spare[1].order_id.encode(), json.dumps(too_long).encode(), RejectReason.INVALID_FIELD),
        (
            spare[2].order_id.encode(),
            encode_event(spare[2]).replace(b'"customer_name":"', b'"customer_name":"\xc3\x28', 1),
            RejectReason.NOT_UTF8,
        ),
        (
            SQL_ID.encode(),
            json.dumps(json.loads(encode_event(spare[3])) | {"order_id": SQL_ID}).encode(),
            RejectReason.INVALID_FIELD,
        ),
        (
            spare[4].order_id.encode(),
            encode_event(spare[4]).replace(b'"customer_name":"', b'"customer_name":"\\ud800', 1),
            RejectReason.INVALID_JSON,
        ),
    ]
    for bad_key, bad_value, _reason in bad:
        messages.append(message(len(messages), bad_key, bad_value))

    decoded = [decode_message(m) for m in messages]
    events = [d for d in decoded if isinstance(d, ReceivedEvent)]
    rejects = [d for d in decoded if isinstance(d, Rejected)]
    assert [r.reason for r in rejects] == [reason for _k, _v, reason in bad]
    engine = migrated_engine(Settings(database_url=url))
    outcome = apply_batch(events, unit_of_work_factory(engine)())
    engine.dispose()
    assert outcome.applied == len(stored)

    rows = stored_rows(url)
    assert set(rows) == set(stored)  # the tables are intact and hold exactly these
    columns = dict(zip(TEXT_FIELDS, range(3), strict=True))
    for order_id, (name, value) in stored.items():
        row = rows[order_id]
        assert row[columns[name]] == value, f"{name} of {order_id} not stored verbatim"
        assert json.loads(row[3])[name] == value
    report_figures(
        f"hostile-{backend}",
        applied=outcome.applied,
        dead_letters=len(rejects),
        seconds=round(time.monotonic() - started, 1),
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_nul_character_is_rejected_and_the_rest_of_the_batch_applied(
    request: pytest.FixtureRequest, backend: str
) -> None:
    # PostgreSQL text cannot hold NUL, so validation refuses it on every backend alike.
    url = database_url(request, backend)
    good, poisoned = creations(2)
    poisoned = poisoned.model_copy(update={"customer_name": NUL})
    messages = [
        message(n, event.order_id.encode(), encode_event(event))
        for n, event in enumerate([good, poisoned])
    ]
    decoded = [decode_message(m) for m in messages]
    assert isinstance(decoded[0], ReceivedEvent)
    rejected = decoded[1]
    assert isinstance(rejected, Rejected)
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert "customer_name" in rejected.error
    engine = migrated_engine(Settings(database_url=url))
    outcome = apply_batch([decoded[0]], unit_of_work_factory(engine)())
    engine.dispose()
    assert outcome.applied == 1
    assert set(stored_rows(url)) == {good.order_id}

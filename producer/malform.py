"""Malformed copies of real events, each labelled with the reason the codec must give.

Used by :mod:`producer.faults`. Every function returns a message whose
``expected_reason`` is exactly what ``domain.codec.decode_event(value, key=key)``
raises for it (the unit tests hold this to account). Every decode-time reason is
made; ``conflicting_duplicate`` is not, as it is judged when applying a valid event.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from domain.codec import RejectReason, encode_event, event_to_json_dict
from domain.events import MAX_EVENT_BYTES, Event, OrderCreated
from producer.messages import FaultKind, OutgoingMessage
from producer.simulation import to_ms

R = RejectReason
Mangler = Callable[[Event, dict[str, Any], random.Random], tuple[bytes, R]]

#: Fields every event needs: dropping one is a ``missing_field``.
_REQUIRED = ("event_id", "event_type", "order_id", "occurred_at")
_REQUIRED_CREATED = (*_REQUIRED, "customer_id", "product_sku", "quantity", "unit_price")

#: (field, bad value) pairs that break one constraint of an ``order-created``.
_BAD_CREATED_VALUES: tuple[tuple[str, Any], ...] = (
    ("quantity", 0),
    ("quantity", "2"),
    ("unit_price", "12.345"),
    ("unit_price", "-1.00"),
    ("currency", "XXX"),
    ("shipping_tier", "teleport"),
    ("customer_name", "x" * 121),
    ("order_id", "has spaces"),
    ("occurred_at", "2025-01-06T10:00:00"),
    ("occurred_at", "1736157600"),  # a Unix time, even as text, is not date-time text
    ("promised_delivery_at", "1736157600"),
    ("event_id", "not-a-uuid"),
)
_BAD_CHANGE_VALUES: tuple[tuple[str, Any], ...] = (
    ("occurred_at", "2025-01-06T10:00:00"),
    ("occurred_at", 1736157600),
    ("occurred_at", "1736157600.5"),
    ("event_id", "not-a-uuid"),
    ("order_id", ""),
)
#: ISO-8601 times outside 1970..2199 once in UTC (the first two overflow a conversion).
_OUT_OF_RANGE_TIMES = (
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00Z",
    "2199-12-31T23:30:00-00:30",
)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _invalid_json(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    value = encode_event(event)
    return value[: rng.randrange(1, len(value) - 1)], R.INVALID_JSON


def _not_utf8(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    return encode_event(event).replace(b'"order_id":"', b'"order_id":"\xff\xfe', 1), R.NOT_UTF8


def _not_an_object(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    return b"[" + encode_event(event) + b"]", R.NOT_AN_OBJECT


def _unknown_type(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    doc["event_type"] = rng.choice(["order-updated", "ORDER-CREATED", "shipment"])
    return _dumps(doc), R.UNKNOWN_EVENT_TYPE


def _schema_version(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    doc["schema_version"] = rng.choice([0, 2, 99, True, 1.0, "1"])
    return _dumps(doc), R.UNSUPPORTED_SCHEMA_VERSION


def _missing_field(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    del doc[rng.choice(_REQUIRED_CREATED if isinstance(event, OrderCreated) else _REQUIRED)]
    return _dumps(doc), R.MISSING_FIELD


def _unknown_status(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    if isinstance(event, OrderCreated):  # a creation has no status: break a field instead
        return _invalid_field(event, doc, rng)
    doc["status"] = rng.choice(["teleported", "DELIVERED", "misplaced"])
    return _dumps(doc), R.UNKNOWN_STATUS


def _invalid_field(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    choices = _BAD_CREATED_VALUES if isinstance(event, OrderCreated) else _BAD_CHANGE_VALUES
    name, value = rng.choice(choices)
    doc[name] = value
    return _dumps(doc), R.INVALID_FIELD


def _time_out_of_range(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    name = (
        "promised_delivery_at"
        if isinstance(event, OrderCreated) and rng.random() < 0.3
        else "occurred_at"
    )
    doc[name] = rng.choice(_OUT_OF_RANGE_TIMES)
    return _dumps(doc), R.TIME_OUT_OF_RANGE


def _duplicate_key(event: Event, doc: dict[str, Any], rng: random.Random) -> tuple[bytes, R]:
    name = rng.choice(sorted(doc))
    again = doc[name] if rng.random() < 0.5 else doc["order_id"]  # same value or another
    return _dumps(doc)[:-1] + b"," + _dumps({name: again})[1:], R.DUPLICATE_JSON_KEY


_MANGLERS: tuple[Mangler, ...] = (
    _invalid_json,
    _not_utf8,
    _not_an_object,
    _unknown_type,
    _schema_version,
    _missing_field,
    _unknown_status,
    _invalid_field,
    _time_out_of_range,
    _duplicate_key,
)


def mangle(event: Event, rng: random.Random) -> OutgoingMessage:
    """A malformed copy of ``event`` (one of several breakages, or a wrong or empty key)."""
    key = event.order_id.encode()
    pick = rng.randrange(len(_MANGLERS) + 2)
    if pick == len(_MANGLERS):  # a valid value under another order's key
        value, reason, key = encode_event(event), R.KEY_MISMATCH, b"WRONG-" + key
    elif pick == len(_MANGLERS) + 1:  # a valid value with an empty key
        value, reason, key = encode_event(event), R.MISSING_KEY, b""
    else:
        value, reason = _MANGLERS[pick](event, event_to_json_dict(event), rng)
    return _message(event, key, value, "malformed", reason)


def oversize(event: Event, rng: random.Random) -> OutgoingMessage:
    """A copy of ``event`` padded beyond ``MAX_EVENT_BYTES``."""
    doc = event_to_json_dict(event)
    doc["padding"] = "x" * (MAX_EVENT_BYTES + rng.randrange(1, 4096))
    return _message(event, event.order_id.encode(), _dumps(doc), "oversized", R.OVERSIZED)


def _message(
    event: Event, key: bytes, value: bytes, fault: FaultKind, reason: R
) -> OutgoingMessage:
    return OutgoingMessage(
        topic_kind=event.event_type,
        key=key,
        encoded=value,
        timestamp_ms=to_ms(event.occurred_at),
        fault=fault,
        expected_reason=reason,
    )

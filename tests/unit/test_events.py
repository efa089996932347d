"""Event contracts: every constraint violation is rejected with the right reason code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.codec import EventDecodeError, RejectReason, decode_payload, event_to_json_dict
from domain.events import (
    CURRENCIES,
    EARLIEST_EVENT_TIME,
    END_OF_EVENT_TIME,
    OrderCreated,
    StatusChanged,
    event_status,
)
from domain.lifecycle import OrderStatus
from tests.support.builders import fixed_created as _created

R = RejectReason


def _created_doc() -> dict[str, Any]:
    return event_to_json_dict(_created())


def _change_doc() -> dict[str, Any]:
    doc = _created_doc()
    keep = ("event_id", "schema_version", "order_id", "occurred_at")
    return {**{k: doc[k] for k in keep}, "event_type": "status-changed", "status": "shipped"}


def _reason(doc: dict[str, Any]) -> RejectReason:
    with pytest.raises(EventDecodeError) as caught:
        decode_payload(doc)
    assert caught.value.detail  # a readable explanation, not just a code
    return caught.value.reason


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("quantity", 0, R.INVALID_FIELD),
        ("quantity", 10_001, R.INVALID_FIELD),
        ("quantity", "2", R.INVALID_FIELD),
        ("quantity", 1.5, R.INVALID_FIELD),
        ("unit_price", "12.345", R.INVALID_FIELD),
        ("unit_price", "-0.01", R.INVALID_FIELD),
        ("currency", "XXX", R.INVALID_FIELD),
        ("currency", "eur", R.INVALID_FIELD),
        ("shipping_tier", "overnight", R.INVALID_FIELD),
        ("occurred_at", "2025-01-06T10:00:00", R.INVALID_FIELD),
        ("occurred_at", "yesterday", R.INVALID_FIELD),
        ("promised_delivery_at", "2024-01-01T00:00:00Z", R.INVALID_FIELD),
        ("customer_name", "x" * 121, R.INVALID_FIELD),
        ("customer_name", "", R.INVALID_FIELD),
        ("product_name", "nul\x00inside", R.INVALID_FIELD),
        ("order_id", "a" * 65, R.INVALID_FIELD),
        ("order_id", "has space", R.INVALID_FIELD),
        ("event_id", "not-a-uuid", R.INVALID_FIELD),
        ("occurred_at", "1736157600", R.INVALID_FIELD),  # a Unix time, even as text
        ("occurred_at", 1736157600, R.INVALID_FIELD),
        ("occurred_at", "1736157600.5", R.INVALID_FIELD),
        ("occurred_at", "-1", R.INVALID_FIELD),
        ("promised_delivery_at", "1736762400", R.INVALID_FIELD),
        ("promised_delivery_at", 1736762400, R.INVALID_FIELD),
        ("occurred_at", "9999-12-31T23:59:59-12:00", R.TIME_OUT_OF_RANGE),
        ("occurred_at", "0001-01-01T00:00:00+14:00", R.TIME_OUT_OF_RANGE),
        ("occurred_at", "1969-12-31T23:59:59.999999Z", R.TIME_OUT_OF_RANGE),
        ("occurred_at", "1970-01-01T00:59:59+01:00", R.TIME_OUT_OF_RANGE),
        ("promised_delivery_at", "2200-01-01T00:00:00Z", R.TIME_OUT_OF_RANGE),
        ("promised_delivery_at", "2199-12-31T23:59:59-00:01", R.TIME_OUT_OF_RANGE),
        ("promised_delivery_at", "9999-12-31T23:59:59-12:00", R.TIME_OUT_OF_RANGE),
        ("schema_version", 2, R.UNSUPPORTED_SCHEMA_VERSION),
        ("schema_version", True, R.UNSUPPORTED_SCHEMA_VERSION),
        ("schema_version", 1.0, R.UNSUPPORTED_SCHEMA_VERSION),
        ("schema_version", "1", R.UNSUPPORTED_SCHEMA_VERSION),
        ("schema_version", None, R.UNSUPPORTED_SCHEMA_VERSION),
        ("event_type", None, R.UNKNOWN_EVENT_TYPE),
        ("event_type", "order-updated", R.UNKNOWN_EVENT_TYPE),
        ("surprise", "extra field", R.INVALID_FIELD),
    ],
)
def test_order_created_constraints(field: str, value: Any, reason: RejectReason) -> None:
    assert _reason({**_created_doc(), field: value}) is reason


@pytest.mark.parametrize(
    "field",
    ["event_id", "event_type", "order_id", "occurred_at", "customer_id", "quantity", "carrier"],
)
def test_missing_fields(field: str) -> None:
    doc = _created_doc()
    del doc[field]
    assert _reason(doc) is R.MISSING_FIELD


@given(st.text(max_size=30).filter(lambda s: s not in {x.value for x in OrderStatus}))
@settings(max_examples=100, deadline=None)
def test_unknown_status(status: str) -> None:
    assert _reason({**_change_doc(), "status": status}) is R.UNKNOWN_STATUS


def test_pending_cannot_be_reported_by_a_status_change() -> None:
    assert _reason({**_change_doc(), "status": "pending"}) is R.UNKNOWN_STATUS


@given(st.integers(0, 10**8).filter(lambda n: n % 10 != 0))
@settings(max_examples=50, deadline=None)
def test_prices_with_three_decimals_are_rejected(thousandths: int) -> None:
    price = f"{thousandths // 1000}.{thousandths % 1000:03d}"
    assert _reason({**_created_doc(), "unit_price": str(price)}) is R.INVALID_FIELD


@given(st.text(min_size=3, max_size=3).filter(lambda c: c not in CURRENCIES))
@settings(max_examples=50, deadline=None)
def test_unknown_currencies_are_rejected(code: str) -> None:
    assert _reason({**_created_doc(), "currency": code}) is R.INVALID_FIELD


def test_models_are_frozen_and_strict() -> None:
    event = _created()
    with pytest.raises(ValueError):
        event.quantity = 2  # type: ignore[misc]
    with pytest.raises(ValueError):
        OrderCreated(**{**event.model_dump(), "quantity": "2"})


def test_event_status() -> None:
    assert event_status(_created()) is OrderStatus.PENDING
    change = decode_payload(_change_doc())
    assert isinstance(change, StatusChanged)
    assert event_status(change) is OrderStatus.SHIPPED


@pytest.mark.parametrize(
    "value",
    ["1970-01-01T00:00:00Z", "1970-01-01T01:00:00+01:00", "2199-12-31T23:59:59.999999Z"],
)
def test_times_at_the_edges_of_the_range_are_accepted(value: str) -> None:
    doc = {**_change_doc(), "occurred_at": value}
    assert decode_payload(doc).occurred_at == datetime.fromisoformat(value)


def test_the_range_is_1970_to_2200_in_utc() -> None:
    assert (
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2200, 1, 1, tzinfo=UTC),
    ) == (EARLIEST_EVENT_TIME, END_OF_EVENT_TIME)
    event = _created()
    with pytest.raises(ValueError):  # the model itself refuses, not only the codec
        OrderCreated(**{**event.model_dump(), "occurred_at": datetime(2200, 1, 1, tzinfo=UTC)})

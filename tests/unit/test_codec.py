"""Wire format: encode/decode round trip (property-based) and classified failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.codec import (
    EventDecodeError,
    RejectReason,
    decode_event,
    decode_payload,
    encode_event,
    event_to_json_dict,
)
from domain.events import (
    CURRENCIES,
    MAX_EVENT_BYTES,
    Event,
    OrderCreated,
    ShippingTier,
    StatusChanged,
)
from domain.lifecycle import CHANGE_STATUSES

identifiers = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)
# NUL is refused (PostgreSQL text cannot hold it); every other non-surrogate is valid.
texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=120
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)),
    offsets,
)
uuids = st.uuids()


@st.composite
def order_created(draw: st.DrawFn) -> OrderCreated:
    occurred = draw(moments)
    promised = draw(st.none() | st.timedeltas(timedelta(0), timedelta(days=30)))
    return OrderCreated(
        event_id=draw(uuids),
        order_id=draw(identifiers),
        occurred_at=occurred,
        customer_id=draw(identifiers),
        customer_name=draw(texts),
        product_sku=draw(identifiers),
        product_name=draw(texts),
        quantity=draw(st.integers(1, 10_000)),
        unit_price=draw(st.decimals(0, 10**9, places=2, allow_nan=False, allow_infinity=False)),
        currency=draw(st.sampled_from(sorted(CURRENCIES))),
        shipping_tier=draw(st.sampled_from(list(ShippingTier))),
        carrier=draw(identifiers),
        destination_region=draw(texts),
        promised_delivery_at=None if promised is None else occurred + promised,
    )


status_changed = st.builds(
    StatusChanged,
    event_id=uuids,
    order_id=identifiers,
    occurred_at=moments,
    status=st.sampled_from(sorted(CHANGE_STATUSES)),
)
events = order_created() | status_changed


@given(events)
@settings(max_examples=200, deadline=None)
def test_round_trip(event: Event) -> None:
    raw = encode_event(event)
    decoded = decode_event(raw, key=event.order_id.encode())
    assert decoded == event
    assert encode_event(decoded) == raw  # deterministic: same event, same bytes
    assert decode_payload(json.loads(raw)) == event
    assert event_to_json_dict(event) == json.loads(raw)
    assert raw == event.model_dump_json().encode("utf-8")  # pydantic's own JSON, unchanged


def _created() -> OrderCreated:
    return OrderCreated(
        event_id=UUID(int=1, version=4),
        order_id="ORD-1",
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
        customer_id="C1",
        customer_name="Ada",
        product_sku="SKU-1",
        product_name="Mug",
        quantity=1,
        unit_price=Decimal("12.00"),
        currency="EUR",
        shipping_tier=ShippingTier.STANDARD,
        carrier="SWIFTPOST",
        destination_region="Midlands",
    )


def test_size_is_checked_before_anything_else() -> None:
    raw = b"{" + b" " * MAX_EVENT_BYTES + b"}"
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is RejectReason.OVERSIZED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", RejectReason.NOT_UTF8),
        (b"{not json", RejectReason.INVALID_JSON),
        (b"", RejectReason.INVALID_JSON),
        (b"[]", RejectReason.NOT_AN_OBJECT),
        (b"42", RejectReason.NOT_AN_OBJECT),
        (b'{"event_type": "shipment"}', RejectReason.UNKNOWN_EVENT_TYPE),
        (b"{}", RejectReason.UNKNOWN_EVENT_TYPE),
    ],
)
def test_unreadable_messages(raw: bytes, reason: RejectReason) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is reason
    assert str(caught.value).startswith(reason.value)


def test_key_must_be_the_order_id() -> None:
    raw = encode_event(_created())
    assert decode_event(raw, key=b"ORD-1") == _created()
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw, key=b"ORD-2")
    assert caught.value.reason is RejectReason.KEY_MISMATCH

"""Wire format: encode/decode round trip (property-based) and classified failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
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
from tests.support.builders import fixed_created

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


@given(events)
@settings(max_examples=100, deadline=None)
def test_a_decoded_message_or_file_record_carries_its_event_id_text(event: Event) -> None:
    from consumer.batch import RawMessage, ReceivedEvent, SourcePosition
    from consumer.decode import decode_message

    raw = encode_event(event)
    spaced = json.dumps(json.loads(raw), indent=1).encode()  # another producer's bytes
    for value in (raw, spaced):
        message = RawMessage(SourcePosition("t", 0, 0), event.order_id.encode(), value)
        decoded = decode_message(message)
        assert isinstance(decoded, ReceivedEvent)
        assert decoded.id_text == str(event.event_id) == ReceivedEvent(event).id_text
    # as a file record arrives: with the canonical JSON its reader made
    assert ReceivedEvent(event, payload=raw.decode()).id_text == str(event.event_id)


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
        (b'{"event_type": null}', RejectReason.UNKNOWN_EVENT_TYPE),
        (b"{}", RejectReason.MISSING_FIELD),  # no event_type at all
        (b'{"not": "an event"}', RejectReason.MISSING_FIELD),
    ],
)
def test_unreadable_messages(raw: bytes, reason: RejectReason) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is reason
    assert str(caught.value).startswith(reason.value)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (b"ORD-2", RejectReason.KEY_MISMATCH),
        (None, RejectReason.MISSING_KEY),
        (b"", RejectReason.MISSING_KEY),
    ],
)
def test_key_must_be_the_order_id(key: bytes | None, reason: RejectReason) -> None:
    raw = encode_event(fixed_created())
    assert decode_event(raw, key=b"ORD-1") == fixed_created()
    assert decode_event(raw) == fixed_created()  # a keyless source (a file row) is not checked
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw, key=key)
    assert caught.value.reason is reason


def test_the_value_is_judged_before_the_key() -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(b"{not json", key=None)
    assert caught.value.reason is RejectReason.INVALID_JSON


def _reason_of(raw: bytes) -> RejectReason:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw, key=b"ORD-1")
    return caught.value.reason


def _with(field: str, json_value: str) -> bytes:
    """The canonical bytes of ``fixed_created()`` with ``field`` set to raw JSON text."""
    doc = event_to_json_dict(fixed_created())
    doc[field] = "@"
    return json.dumps(doc).replace('"@"', json_value).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (encode_event(fixed_created())[:-1] + b',"quantity":1}', RejectReason.DUPLICATE_JSON_KEY),
        (encode_event(fixed_created())[:-1] + b',"quantity":2}', RejectReason.DUPLICATE_JSON_KEY),
        (
            encode_event(fixed_created())[:-1] + b',"qu\\u0061ntity":2}',
            RejectReason.DUPLICATE_JSON_KEY,
        ),
        (_with("extra", '{"a": 1, "a": 1}'), RejectReason.DUPLICATE_JSON_KEY),
        (encode_event(fixed_created())[:-1] + b',"quantity":2', RejectReason.INVALID_JSON),
        (_with("quantity", "NaN"), RejectReason.INVALID_JSON),
        (_with("unit_price", "Infinity"), RejectReason.INVALID_JSON),
        (_with("unit_price", "-Infinity"), RejectReason.INVALID_JSON),
        (_with("quantity", "9" * 4300), RejectReason.INVALID_FIELD),
        # past 4300 digits pydantic's parser refuses a number as JSON it cannot hold
        (_with("quantity", "9" * 5000), RejectReason.INVALID_JSON),
        (_with("quantity", "1" + "0" * 4000 + ".5e-3"), RejectReason.INVALID_FIELD),
        (_with("unit_price", "1e99999"), RejectReason.INVALID_FIELD),
        (_with("schema_version", "1" * 4000), RejectReason.UNSUPPORTED_SCHEMA_VERSION),
        (_with("schema_version", "true"), RejectReason.UNSUPPORTED_SCHEMA_VERSION),
        (_with("schema_version", "1.0"), RejectReason.UNSUPPORTED_SCHEMA_VERSION),
        (_with("occurred_at", "9" * 4000), RejectReason.INVALID_FIELD),
        (_with("occurred_at", "1736157600"), RejectReason.INVALID_FIELD),
        (_with("occurred_at", '"1736157600"'), RejectReason.INVALID_FIELD),
        (_with("occurred_at", '"-1"'), RejectReason.INVALID_FIELD),  # a Unix time, not a range
        (_with("promised_delivery_at", '"1736157600"'), RejectReason.INVALID_FIELD),
        (_with("occurred_at", '"9999-12-31T23:59:59-12:00"'), RejectReason.TIME_OUT_OF_RANGE),
        (_with("occurred_at", '"0001-01-01T00:00:00+14:00"'), RejectReason.TIME_OUT_OF_RANGE),
        (_with("promised_delivery_at", '"2200-01-01T00:00:00Z"'), RejectReason.TIME_OUT_OF_RANGE),
        (_with("extra", "[" * 3000 + "]" * 3000), RejectReason.INVALID_JSON),
        (_with("customer_name", '"\\udc80"'), RejectReason.INVALID_JSON),  # lone surrogate
        (_with("customer_name", '"\\ud800\\udc00"'), None),  # a valid pair is a character
    ],
)
def test_odd_json_is_classified(raw: bytes, reason: RejectReason | None) -> None:
    if reason is None:
        assert decode_event(raw, key=b"ORD-1").order_id == "ORD-1"
    else:
        assert _reason_of(raw) is reason


def _utc_microseconds(moment: datetime) -> int:
    """Microseconds since 1970 in UTC, by plain arithmetic (no datetime conversion)."""
    naive = moment.replace(tzinfo=None)
    offset = moment.utcoffset()
    assert offset is not None
    return (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1) - offset // timedelta(
        microseconds=1
    )


# 230 years from 1970, 56 of them leap years (2000 is one, 2100 is not)
END_MICROSECONDS = (230 * 365 + 56) * 86_400 * 10**6
any_offset = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
near_bounds = st.sampled_from(
    [datetime(1969, 12, 31), datetime(1970, 1, 1), datetime(2199, 12, 31)]
)
any_moment = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes()
    | near_bounds.flatmap(lambda d: st.datetimes(d - timedelta(days=1), d + timedelta(days=2))),
    any_offset,
)


@given(any_moment, st.booleans())
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12))), False)
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), True)
@example(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), False)
@example(datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), True)
@example(datetime(1970, 1, 1, tzinfo=UTC), False)
@example(datetime(2200, 1, 1, tzinfo=UTC), True)
@settings(max_examples=300, deadline=None)
def test_any_event_time_is_accepted_in_range_or_rejected_as_out_of_range(
    moment: datetime, as_promise: bool
) -> None:
    doc = event_to_json_dict(fixed_created())
    if as_promise:  # the earliest creation time, so any promise in range is after it
        doc["occurred_at"] = "1970-01-01T00:00:00Z"
        doc["promised_delivery_at"] = moment.isoformat()
    else:
        doc["occurred_at"] = moment.isoformat()
    in_range = 0 <= _utc_microseconds(moment) < END_MICROSECONDS
    for decode in (lambda: decode_event(json.dumps(doc).encode()), lambda: decode_payload(doc)):
        try:
            event = decode()
        except EventDecodeError as error:
            assert error.reason is RejectReason.TIME_OUT_OF_RANGE, error
            assert not in_range
        else:
            assert in_range
            assert isinstance(event, OrderCreated)
            assert (event.promised_delivery_at if as_promise else event.occurred_at) == moment

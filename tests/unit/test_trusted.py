"""The unvalidated event builders make exactly what pydantic itself makes.

``producer.trusted`` writes a model's internals (``__dict__``,
``__pydantic_fields_set__``, ``__pydantic_extra__``, ``__pydantic_private__``)
by hand; if pydantic changes what a model carries, these tests fail rather than
the simulator emitting subtly different events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from domain.codec import encode_event
from domain.events import (
    CURRENCIES,
    EARLIEST_EVENT_TIME,
    END_OF_EVENT_TIME,
    OrderCreated,
    ShippingTier,
    StatusChanged,
)
from domain.lifecycle import CHANGE_STATUSES
from producer.trusted import status_changed, trusted_event, uuid4_from_bits

identifiers = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)
# no lone surrogates: they cannot be encoded as UTF-8, so no event carries one
short_texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=120
)
event_times = st.datetimes(
    min_value=EARLIEST_EVENT_TIME.replace(tzinfo=None),
    max_value=END_OF_EVENT_TIME.replace(tzinfo=None, microsecond=0),
    timezones=st.just(UTC),
).filter(lambda at: at < END_OF_EVENT_TIME)


def assert_same_model(built: BaseModel, reference: BaseModel) -> None:
    """Equal field by field, in the same order, with the same pydantic bookkeeping."""
    assert type(built) is type(reference)
    assert list(vars(built).items()) == list(vars(reference).items())
    assert built.model_fields_set == reference.model_fields_set
    assert built.__pydantic_extra__ == reference.__pydantic_extra__
    assert built.__pydantic_private__ == reference.__pydantic_private__
    assert built == reference
    assert built.model_dump_json().encode() == reference.model_dump_json().encode()


@given(
    bits=st.integers(0, 2**128 - 1),
    order_id=identifiers,
    occurred_at=event_times,
    status=st.sampled_from(sorted(CHANGE_STATUSES)),
)
def test_status_changed_is_what_pydantic_builds(
    bits: int, order_id: str, occurred_at: datetime, status: Any
) -> None:
    built = status_changed(bits, order_id, occurred_at, status)
    given_fields = {
        "event_id": UUID(int=bits, version=4),
        "order_id": order_id,
        "occurred_at": occurred_at,
        "status": status,
    }
    assert_same_model(built, StatusChanged.model_construct(**given_fields))
    validated = StatusChanged.model_validate(given_fields)
    assert_same_model(built, validated)
    assert encode_event(built) == encode_event(validated)


@st.composite
def creations(draw: st.DrawFn) -> dict[str, Any]:
    """The fields the simulator passes to ``trusted_event``, in declaration order."""
    occurred_at = draw(event_times)
    promise_after = draw(st.none() | st.timedeltas(timedelta(0), timedelta(days=60)))
    promised = None if promise_after is None else occurred_at + promise_after
    return {
        "event_id": uuid4_from_bits(draw(st.integers(0, 2**128 - 1))),
        "schema_version": 1,
        "order_id": draw(identifiers),
        "occurred_at": occurred_at,
        "event_type": "order-created",
        "customer_id": draw(identifiers),
        "customer_name": draw(short_texts),
        "product_sku": draw(identifiers),
        "product_name": draw(short_texts),
        "quantity": draw(st.integers(1, 10_000)),
        "unit_price": draw(
            st.decimals(Decimal(0), Decimal("9999999999.99"), places=2, allow_nan=False)
        ),
        "currency": draw(st.sampled_from(sorted(CURRENCIES))),
        "shipping_tier": draw(st.sampled_from(list(ShippingTier))),
        "carrier": draw(identifiers),
        "destination_region": draw(short_texts),
        # a promise is never before the order (the model refuses that)
        "promised_delivery_at": promised if promised and promised < END_OF_EVENT_TIME else None,
    }


@given(creations())
def test_trusted_creation_is_what_pydantic_builds(fields: dict[str, Any]) -> None:
    fields_set = frozenset(fields) - {"schema_version", "event_type"}
    built = trusted_event(OrderCreated, dict(fields), fields_set)
    assert_same_model(built, OrderCreated.model_construct(_fields_set=set(fields_set), **fields))
    validated = OrderCreated.model_validate({k: fields[k] for k in fields_set})
    assert_same_model(built, validated)
    assert encode_event(built) == encode_event(validated)

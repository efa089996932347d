"""Event contracts: what travels on the ``order-created`` and ``status-changed`` topics.

One JSON object per message. The models are frozen and strict; the JSON Schema
published under ``schemas/`` is generated from them (``sla-pipeline schema``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.lifecycle import CHANGE_STATUSES, OrderStatus

SCHEMA_VERSION: Final = 1

#: Every event time, converted to UTC, must lie in ``[EARLIEST_EVENT_TIME, END_OF_EVENT_TIME)``:
#: the SLA queries count integer microseconds since 1970, and PostgreSQL's float8 epoch is
#: exact to the microsecond only up to about 2255, so later (or earlier) times cannot be
#: stored and reported faithfully on both backends.
EARLIEST_EVENT_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_EVENT_TIME: Final = datetime(2200, 1, 1, tzinfo=UTC)

#: Largest message the consumer accepts; anything bigger is dead-lettered unread.
MAX_EVENT_BYTES = 16 * 1024

ORDER_CREATED: Final = "order-created"
STATUS_CHANGED: Final = "status-changed"

#: ISO 4217 codes accepted for ``currency`` (active codes in common commercial use).
CURRENCIES: frozenset[str] = frozenset(
    [
        "AED",
        "ARS",
        "AUD",
        "BGN",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KES",
        "KRW",
        "MAD",
        "MXN",
        "MYR",
        "NGN",
        "NOK",
        "NZD",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    ]
)


class ShippingTier(StrEnum):
    """Service level bought at checkout; drives the derived delivery promise."""

    ECONOMY = "economy"
    STANDARD = "standard"
    EXPRESS = "express"
    SAME_DAY = "same_day"


# NUL is the one character PostgreSQL text cannot hold, so it is refused here rather than
# failing the whole batch at apply time; every other character is stored verbatim.
ShortText = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00]+$")]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]

_TIME_RANGE = (
    f"{EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%M:%SZ} (inclusive) to "
    f"{END_OF_EVENT_TIME:%Y-%m-%dT%H:%M:%SZ} (exclusive)"
)
#: An event time: ISO-8601 with an offset, in ``[EARLIEST_EVENT_TIME, END_OF_EVENT_TIME)``
#: once in UTC (pydantic compares aware times without converting them, so year 1 or
#: 9999 in any offset is refused, never overflowed). That it was written as text, not
#: as a Unix time, is checked by ``domain.codec``.
EventTime = Annotated[AwareDatetime, Field(ge=EARLIEST_EVENT_TIME, lt=END_OF_EVENT_TIME)]
#: The fields that hold an :data:`EventTime`.
EVENT_TIME_FIELDS: Final = frozenset({"occurred_at", "promised_delivery_at"})
#: Exactly the JSON integer 1 (``Literal[1]`` would also take ``true`` and ``1.0``).
SchemaVersion = Annotated[
    StrictInt,
    Field(ge=SCHEMA_VERSION, le=SCHEMA_VERSION),
    WithJsonSchema({"const": 1, "type": "integer"}),
]


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    event_id: UUID
    schema_version: SchemaVersion = SCHEMA_VERSION
    order_id: Identifier
    occurred_at: EventTime = Field(
        description=f"Event time: ISO-8601 text with offset, in UTC from {_TIME_RANGE}."
    )


class OrderCreated(_Event):
    """An order was placed: its commercial and shipping facts."""

    event_type: Literal["order-created"] = ORDER_CREATED
    customer_id: Identifier
    customer_name: ShortText
    product_sku: Identifier
    product_name: ShortText
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: str = Field(min_length=3, max_length=3)
    shipping_tier: ShippingTier
    carrier: Identifier
    destination_region: ShortText
    promised_delivery_at: EventTime | None = Field(
        default=None,
        description=f"Delivery deadline: ISO-8601 text with offset, in UTC from {_TIME_RANGE}.",
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value

    @model_validator(mode="after")
    def _promise_after_creation(self) -> OrderCreated:
        if self.promised_delivery_at is not None and self.promised_delivery_at < self.occurred_at:
            raise ValueError("promised_delivery_at is before occurred_at")
        return self


class StatusChanged(_Event):
    """The logistics system reports that an order moved to ``status``."""

    event_type: Literal["status-changed"] = STATUS_CHANGED
    status: OrderStatus

    @field_validator("status")
    @classmethod
    def _not_initial(cls, value: OrderStatus) -> OrderStatus:
        if value not in CHANGE_STATUSES:
            raise ValueError(f"status {value.value!r} cannot be reported by a status change")
        return value


Event = OrderCreated | StatusChanged


def event_status(event: Event) -> OrderStatus:
    """The status an event puts its order in (``pending`` for a creation)."""
    return event.status if isinstance(event, StatusChanged) else OrderStatus.PENDING

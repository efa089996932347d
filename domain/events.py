"""Event contracts: what travels on the ``order-created`` and ``status-changed`` topics.

One JSON object per message. The models are frozen and strict; the JSON Schema
published under ``schemas/`` is generated from them (``sla-pipeline schema``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.lifecycle import CHANGE_STATUSES, OrderStatus

SCHEMA_VERSION: Final = 1

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


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    event_id: UUID
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: Identifier
    occurred_at: AwareDatetime = Field(description="Event time, ISO-8601 with offset.")


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
    promised_delivery_at: AwareDatetime | None = None

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

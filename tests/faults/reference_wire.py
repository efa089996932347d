"""The wire format as the documents describe it: which messages are events, and which events.

Part of the reference model (``tests.faults.reference``) and, like it, written from the
documents alone (``schemas/*.json``, ``docs/files.md``, ``docs/lifecycle.md``, the
product brief): nothing from ``consumer``, ``infra`` or ``domain`` is imported.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

STATUSES = (
    "pending", "approved", "processing", "packed", "shipped", "in_transit", "out_for_delivery",
    "delivery_failed", "delivered", "returned_to_sender", "lost", "cancelled",
)  # fmt: skip
RANK = {status: n for n, status in enumerate(STATUSES)}
#: docs/sla.md: the tiers of the seeded policy (and of the JSON Schema).
TIERS = ("economy", "standard", "express", "same_day")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # first instant out of range
IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
COMMON = {"event_id", "event_type", "schema_version", "order_id", "occurred_at"}
CHANGE_FIELDS = COMMON | {"status"}
CREATED_REQUIRED = {
    "event_id", "order_id", "occurred_at", "customer_id", "customer_name", "product_sku",
    "product_name", "quantity", "unit_price", "currency", "shipping_tier", "carrier",
    "destination_region",
}  # fmt: skip
CREATED_FIELDS = COMMON | CREATED_REQUIRED | {"promised_delivery_at"}


class Invalid(ValueError):
    """A message that can never be a valid event (it is dead-lettered)."""


@dataclass(frozen=True)
class WireEvent:
    event_id: str
    order_id: str
    event_type: str
    occurred_at: datetime
    status: str
    facts: tuple[tuple[str, Any], ...] = ()

    @property
    def precedence(self) -> tuple[datetime, int, str]:
        return (self.occurred_at, RANK[self.status], self.event_id)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Invalid("duplicate key")
    return dict(pairs)


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Invalid("time is not a string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise Invalid(str(error)) from error
    if moment.tzinfo is None:
        raise Invalid("time without offset")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-12:00 is past year 9999 in UTC
        raise Invalid("time out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise Invalid("time out of range")
    return moment


def _text(value: Any, pattern: re.Pattern[str] | None = None, longest: int = 120) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= longest or "\x00" in value:
        raise Invalid("bad text")
    if pattern is not None and not pattern.fullmatch(value):
        raise Invalid("bad identifier")
    return value


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid("bad price")
    try:
        price = Decimal(str(value))
    except InvalidOperation as error:
        raise Invalid("bad price") from error
    if not price.is_finite() or price < 0 or price != price.quantize(Decimal("0.01")):
        raise Invalid("bad price")
    return price


def _facts(doc: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    quantity = doc["quantity"]
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10000:
        raise Invalid("bad quantity")
    currency = doc["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-WYZ][A-Z]{2}", currency):
        raise Invalid("bad currency")
    if doc["shipping_tier"] not in TIERS:
        raise Invalid("bad tier")
    promised = doc.get("promised_delivery_at")
    return (
        ("customer_id", _text(doc["customer_id"], IDENTIFIER, 64)),
        ("customer_name", _text(doc["customer_name"])),
        ("product_sku", _text(doc["product_sku"], IDENTIFIER, 64)),
        ("product_name", _text(doc["product_name"])),
        ("quantity", quantity),
        ("unit_price", _price(doc["unit_price"])),
        ("currency", currency),
        ("shipping_tier", doc["shipping_tier"]),
        ("carrier", _text(doc["carrier"], IDENTIFIER, 64)),
        ("destination_region", _text(doc["destination_region"])),
        ("promised_delivery_at", None if promised is None else _instant(promised)),
    )


def parse(key: bytes | None, value: bytes | None) -> WireEvent:
    """The event a message carries; raises :class:`Invalid` when it can never be valid."""
    try:
        doc = json.loads((value or b"").decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Invalid(f"not JSON: {error}") from error
    if not isinstance(doc, dict):
        raise Invalid("not an object")
    kind = doc.get("event_type")
    fields = {"order-created": CREATED_FIELDS, "status-changed": CHANGE_FIELDS}
    if not isinstance(kind, str) or kind not in fields:
        raise Invalid("unknown event type")
    allowed = fields[kind]
    version = doc.get("schema_version", 1)
    if isinstance(version, bool) or version != 1:
        raise Invalid("schema version")
    required = CREATED_REQUIRED if kind == "order-created" else CHANGE_FIELDS - {"schema_version"}
    if set(doc) - allowed or required - {"event_type"} - set(doc):
        raise Invalid("fields")
    if not isinstance(doc["event_id"], str) or not UUID_TEXT.fullmatch(doc["event_id"]):
        raise Invalid("event id")
    order_id = _text(doc["order_id"], IDENTIFIER, 64)
    if key is None or key != order_id.encode():
        raise Invalid("key is not the order id")
    occurred = _instant(doc["occurred_at"])
    if kind == "status-changed":
        if doc["status"] not in STATUSES[1:]:
            raise Invalid("status")
        return WireEvent(str(uuid.UUID(doc["event_id"])), order_id, kind, occurred, doc["status"])
    facts = _facts(doc)
    return WireEvent(str(uuid.UUID(doc["event_id"])), order_id, kind, occurred, "pending", facts)

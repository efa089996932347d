"""Events from values the simulator already knows are valid, built without validation.

Validating a simulated event costs more than simulating it, and ``model_construct``
is slower still in pydantic 2 (it walks the fields in Python). These builders set
exactly what ``model_construct`` sets (about 1.5 us a status change against 5 us).
They check nothing: a wrong value surfaces only later (a consumer rejecting the
message), so the unit tests validate every simulated event against the strict
models, and ``tests/unit/test_trusted.py`` holds what these builders make equal
to pydantic's own ``model_construct`` and ``model_validate`` -- fields, their
order, the pydantic bookkeeping and the JSON bytes -- so a pydantic upgrade that
changes a model's internals fails there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, SafeUUID

from domain.events import SCHEMA_VERSION, STATUS_CHANGED, OrderCreated, StatusChanged
from domain.lifecycle import OrderStatus

_E = TypeVar("_E", OrderCreated, StatusChanged)

#: What ``UUID(int=bits, version=4)`` does to ``bits``: clear the variant and version
#: bits, then set variant RFC 4122 and version 4.
_UUID4_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID4_SET = (0x8000 << 48) | (4 << 76)
_UUID_SAFETY_UNKNOWN = SafeUUID.unknown  # looked up once: enum access runs a descriptor
_CHANGED_FIELDS = frozenset({"event_id", "order_id", "occurred_at", "status"})
_set = object.__setattr__
_new = object.__new__


def uuid4_from_bits(bits: int) -> UUID:
    """``UUID(int=bits, version=4)`` for ``0 <= bits < 2**128``, without its checks."""
    # UUID.__init__ validates and branches on every keyword; this is the same object
    uuid = _new(UUID)
    _set(uuid, "int", bits & _UUID4_KEEP | _UUID4_SET)
    _set(uuid, "is_safe", _UUID_SAFETY_UNKNOWN)
    return uuid


def trusted_event(cls: type[_E], fields: dict[str, Any], fields_set: frozenset[str]) -> _E:
    """``cls.model_construct(**fields)`` for a complete ``fields`` in declaration order.

    ``fields_set`` names the fields a validated instance would report as set.
    """
    event = _new(cls)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", set(fields_set))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def status_changed(
    id_bits: int, order_id: str, occurred_at: datetime, status: OrderStatus
) -> StatusChanged:
    """The status change with event id ``uuid4_from_bits(id_bits)``."""
    # the two builders written out: this runs for seven events in eight
    event_id = _new(UUID)
    _set(event_id, "int", id_bits & _UUID4_KEEP | _UUID4_SET)
    _set(event_id, "is_safe", _UUID_SAFETY_UNKNOWN)
    event = _new(StatusChanged)
    fields = {
        "event_id": event_id,
        "schema_version": SCHEMA_VERSION,
        "order_id": order_id,
        "occurred_at": occurred_at,
        "event_type": STATUS_CHANGED,
        "status": status,
    }
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", set(_CHANGED_FIELDS))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event

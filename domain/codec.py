"""Wire format: bytes <-> events, with every failure classified by a reason code.

A message that fails here can never become valid by retrying, so the consumer
dead-letters it with :attr:`EventDecodeError.reason`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Annotated, Any, Final

from pydantic import Field, TypeAdapter, ValidationError

from domain.events import (
    EVENT_TIME_FIELDS,
    MAX_EVENT_BYTES,
    ORDER_CREATED,
    STATUS_CHANGED,
    Event,
    OrderCreated,
    StatusChanged,
)


class RejectReason(StrEnum):
    """Why a message can never be applied (the dead-letter reason code)."""

    OVERSIZED = "oversized"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    MISSING_FIELD = "missing_field"
    UNKNOWN_STATUS = "unknown_status"
    INVALID_FIELD = "invalid_field"
    KEY_MISMATCH = "key_mismatch"
    MISSING_KEY = "missing_key"
    DUPLICATE_JSON_KEY = "duplicate_json_key"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    #: decoded fine, but its ``event_id`` is already stored with different content
    CONFLICTING_DUPLICATE = "conflicting_duplicate"


class EventDecodeError(ValueError):
    """A message that is not a valid event; ``reason`` says which rule it broke."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


_MODELS: dict[str, type[OrderCreated] | type[StatusChanged]] = {
    ORDER_CREATED: OrderCreated,
    STATUS_CHANGED: StatusChanged,
}
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(
    Annotated[OrderCreated | StatusChanged, Field(discriminator="event_type")]
)
#: the adapter's compiled validator, called without the adapter's per-call argument checks
_VALIDATE_JSON: Callable[[bytes], Event] = _EVENT_ADAPTER.validator.validate_json


def encode_event(event: Event) -> bytes:
    """Compact, deterministic JSON for ``event`` (same event, same bytes)."""
    # the model's serializer directly: model_dump_json's argument handling and its
    # str round trip cost a third of the encoding, which runs once per event
    return event.__pydantic_serializer__.to_json(event)


def event_to_json_dict(event: Event) -> dict[str, Any]:
    """``event`` as the JSON-compatible dict that :func:`encode_event` writes."""
    result: dict[str, Any] = event.model_dump(mode="json")
    return result


class _Keyless(Enum):
    KEYLESS = "keyless"


#: ``key`` of a source that has no message keys (a file row, a stored history row): a
#: row's key is its own ``order_id``, so there is nothing to compare.
KEYLESS: Final = _Keyless.KEYLESS
MessageKey = bytes | None | _Keyless


def decode_event(raw: bytes, *, key: MessageKey = KEYLESS) -> Event:
    """Parse and validate one message value.

    ``key`` is the Kafka message key: ``None`` or empty (the message had none) is a
    ``missing_key``, a key other than the event's ``order_id`` a ``key_mismatch``;
    both are judged after the value. Leave it out (:data:`KEYLESS`) for a source
    without keys (a file row's key is its own ``order_id``). Raises
    :class:`EventDecodeError` (never anything else) when ``raw`` is not a valid event.
    """
    return decode_with_canonical(raw, key=key)[0]


def decode_with_canonical(
    raw: bytes, *, key: MessageKey = KEYLESS, checked: frozenset[str] | None = None
) -> tuple[Event, bytes]:
    """:func:`decode_event`, also returning the event's canonical JSON (:func:`encode_event`).

    Bytes equal to the canonical JSON cannot hold a duplicate key or a Unix time, so
    only other bytes (another producer's) pay for the text check. ``checked``: the
    caller made ``raw`` from a parsed object (no key twice, no NaN) and found these
    event-time fields holding other than date-time text.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise EventDecodeError(
            RejectReason.OVERSIZED, f"{len(raw)} bytes exceeds the limit of {MAX_EVENT_BYTES}"
        )
    try:
        event = _VALIDATE_JSON(raw)
    except ValidationError as exc:
        text = _utf8(raw)
        if checked is not None:
            raise _classify(exc, checked) from None
        text_error, not_date_times = _check_text(text, validated=False)
        raise (text_error or _classify(exc, not_date_times)) from None
    except RecursionError:
        _utf8(raw)
        raise EventDecodeError(RejectReason.INVALID_JSON, "nested too deeply") from None
    canonical = encode_event(event)
    if checked is not None:
        if checked:
            raise _not_date_time(min(checked))
    elif canonical != raw:
        # canonical JSON is UTF-8, so only other bytes need the check
        text_error, not_date_times = _check_text(_utf8(raw), validated=True)
        if text_error is not None:
            raise text_error
        if not_date_times:
            raise _not_date_time(min(not_date_times))
    if key is None or key == b"":  # no order_id is empty, so an empty key names nothing
        raise EventDecodeError(RejectReason.MISSING_KEY, "message has no key (want order_id)")
    if key is not KEYLESS and key != event.order_id.encode("utf-8"):
        raise EventDecodeError(
            RejectReason.KEY_MISMATCH,
            f"message key {key[:80]!r} is not order_id {event.order_id!r}",
        )
    return event, canonical


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventDecodeError(RejectReason.NOT_UTF8, str(exc)) from None


def decode_payload(payload: object) -> Event:
    """Validate an already-parsed JSON value (a file row); raises :class:`EventDecodeError`.

    A parsed object holds no key twice; its event-time fields are checked here.
    """
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        reason = RejectReason.INVALID_JSON if "JSON compliant" in str(exc) else None
        raise EventDecodeError(reason or RejectReason.INVALID_FIELD, str(exc)[:200]) from None
    checked = _NONE
    if isinstance(payload, dict):
        checked = frozenset(
            name
            for name in EVENT_TIME_FIELDS
            if isinstance(value := payload.get(name), str) and _DATE_TIME_TEXT.match(value) is None
        )
    return decode_with_canonical(text.encode("utf-8"), checked=checked)[0]


# pydantic also reads a string of digits as a Unix time; the contract is date-time text
_DATE_TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


class _NotJson(Exception):
    """NaN or Infinity: Python's parser takes them, JSON has no such values."""


class _DuplicateKey(Exception):
    """A name appears twice in one object (pydantic would keep the last value)."""


def _not_json(token: str) -> object:
    raise _NotJson(token)


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateKey(name)
            seen.add(name)
    return obj


# Built once: json.loads with arguments builds a decoder per call. Numbers stay text (no
# cost, no limit on digits, and a number is not date-time text); raw control characters
# are left for pydantic to judge.
_TEXT_PARSER = json.JSONDecoder(
    object_pairs_hook=_unique_pairs,
    parse_int=str,
    parse_float=str,
    parse_constant=_not_json,
    strict=False,
)
_PLAIN_PARSER = json.JSONDecoder(
    parse_int=str, parse_float=str, parse_constant=_not_json, strict=False
)


def _check_text(text: str, *, validated: bool) -> tuple[EventDecodeError | None, frozenset[str]]:
    """What the JSON text itself breaks: NaN, a key twice in one object, and which
    event-time fields hold something other than date-time text.

    When Python's parser cannot read what pydantic did read (``validated``), the
    parsers disagree, and the text is not trusted.
    """
    try:
        top = _TEXT_PARSER.decode(text)
    except _NotJson as exc:
        return EventDecodeError(RejectReason.INVALID_JSON, f"{exc} is not a JSON value"), _NONE
    except _DuplicateKey as exc:
        # not JSON at all (checked without the hook) is the more basic reason
        error = _plain_json_error(text)
        detail = f"key {str(exc)[:80]!r} appears more than once in an object"
        return error or EventDecodeError(RejectReason.DUPLICATE_JSON_KEY, detail), _NONE
    except (ValueError, RecursionError) as exc:
        if validated:
            return EventDecodeError(RejectReason.INVALID_JSON, str(exc)[:200]), _NONE
        return None, _NONE  # not JSON: pydantic's own error says where
    if not isinstance(top, dict):
        return None, _NONE
    not_date_times = frozenset(
        name
        for name in EVENT_TIME_FIELDS
        if isinstance(value := top.get(name), str) and _DATE_TIME_TEXT.match(value) is None
    )
    return None, not_date_times


def _plain_json_error(text: str) -> EventDecodeError | None:
    try:
        _PLAIN_PARSER.decode(text)
    except _NotJson as exc:
        return EventDecodeError(RejectReason.INVALID_JSON, f"{exc} is not a JSON value")
    except (ValueError, RecursionError) as exc:
        return EventDecodeError(RejectReason.INVALID_JSON, str(exc)[:200])
    return None


_NONE: frozenset[str] = frozenset()


def _not_date_time(field: str) -> EventDecodeError:
    return EventDecodeError(
        RejectReason.INVALID_FIELD,
        f"{field}: should be date-time text such as 2025-01-06T10:00:00+01:00, not a Unix time",
    )


_ERROR_REASONS: dict[str, RejectReason] = {
    "json_invalid": RejectReason.INVALID_JSON,
    "json_type": RejectReason.INVALID_JSON,
    "model_type": RejectReason.NOT_AN_OBJECT,
    "dict_type": RejectReason.NOT_AN_OBJECT,
    "model_attributes_type": RejectReason.NOT_AN_OBJECT,
    "union_tag_invalid": RejectReason.UNKNOWN_EVENT_TYPE,
    "union_tag_not_found": RejectReason.MISSING_FIELD,  # no event_type at all
}
_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than"})


def _classify(exc: ValidationError, not_date_times: frozenset[str] = _NONE) -> EventDecodeError:
    """The reason for pydantic's errors; a time field in ``not_date_times`` is
    ``invalid_field`` whatever pydantic made of it."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    # the discriminated union prefixes field locations with the event type
    loc = [str(part) for part in first["loc"] if part not in _MODELS]
    where = ".".join(loc) or "event"
    detail = f"{where}: {first['msg']}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    if first["type"] in _ERROR_REASONS and len(first["loc"]) == 0:
        if first["type"] == "union_tag_not_found":
            detail = "event_type: missing"
        return EventDecodeError(_ERROR_REASONS[first["type"]], detail)
    fields = {str(e["loc"][-1]) for e in errors if e["loc"]}
    if "schema_version" in fields:
        return EventDecodeError(RejectReason.UNSUPPORTED_SCHEMA_VERSION, detail)
    if any(e["type"] == "missing" for e in errors):
        return EventDecodeError(RejectReason.MISSING_FIELD, detail)
    if not_date_times:
        return _not_date_time(min(not_date_times))
    if any(_out_of_range(e["type"], e["loc"]) for e in errors):
        return EventDecodeError(RejectReason.TIME_OUT_OF_RANGE, detail)
    if "status" in fields:
        return EventDecodeError(RejectReason.UNKNOWN_STATUS, detail)
    return EventDecodeError(RejectReason.INVALID_FIELD, detail)


def _out_of_range(error_type: str, loc: tuple[int | str, ...]) -> bool:
    return error_type in _RANGE_ERRORS and any(part in EVENT_TIME_FIELDS for part in loc)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the wire format (both event types, by ``event_type``)."""
    schema: dict[str, Any] = _EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "logistics-sla-pipeline event"
    return schema

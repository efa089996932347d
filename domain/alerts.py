"""SLA alerts: an order entering or leaving ``at_risk`` / ``breached`` is announced once.

Pure: which state changes are alert-worthy, the alert itself and its deterministic
id. An *episode* is a stretch of one alert-worthy state; it starts at a fact of the
order (the deadline for a breach, the boundary of the at-risk rule that matched),
never at the moment it happened to be noticed, so the same stream gives the same
alert ids however it is batched, replayed or swept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.sla import (
    OrderSla,
    SlaInput,
    SlaPolicy,
    SlaState,
    at_risk_since,
)

ALERT_SCHEMA_VERSION: Final = 1
#: States an order is announced entering and leaving.
ALERT_STATES: Final = frozenset({SlaState.AT_RISK, SlaState.BREACHED})
#: uuid5 namespace of alert ids (fixed forever: changing it changes every id).
ALERT_NAMESPACE: Final = uuid.UUID("6f0d2a3e-5c1b-5e7a-9a43-2f51c0b7e8d4")


class AlertReason(StrEnum):
    """Why the order is in its new state."""

    NOT_SHIPPED = "not_shipped"
    DELIVERY_FAILED = "delivery_failed"
    DEADLINE_NEAR = "deadline_near"
    DEADLINE_PASSED = "deadline_passed"
    BACK_ON_TRACK = "back_on_track"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    LOST = "lost"


_SETTLED_REASON = {
    SlaState.ON_TRACK: AlertReason.BACK_ON_TRACK,
    SlaState.MET: AlertReason.DELIVERED,
    SlaState.MISSED: AlertReason.DELIVERED,
    SlaState.CANCELLED: AlertReason.CANCELLED,
    SlaState.LOST: AlertReason.LOST,
}


class SlaAlert(BaseModel):
    """One alert on the alert topic (keyed by ``order_id``)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    alert_id: uuid.UUID = Field(description="uuid5 of (order_id, state, episode_start).")
    schema_version: Literal[1] = ALERT_SCHEMA_VERSION
    order_id: str = Field(min_length=1, max_length=64)
    state: SlaState = Field(description="The SLA state the order is in now.")
    previous_state: SlaState | None = Field(
        description="The state last announced for the order; null when none was."
    )
    reason: AlertReason
    deadline_at: AwareDatetime
    episode_start: AwareDatetime = Field(
        description="When the episode entered (or, for a leaving alert, the one left) began."
    )
    caused_by_event_at: AwareDatetime | None = Field(
        description="Event time of the order's latest event when an event caused the "
        "change; null when the passage of time did (a sweep)."
    )
    as_of: AwareDatetime = Field(description="The instant the SLA state was evaluated at.")


@dataclass(frozen=True, slots=True)
class AlertedState:
    """What was last announced for an order: its state, the episode's start and the
    as-of instant of that evaluation (an order is never evaluated earlier again)."""

    state: SlaState
    episode_start: datetime
    as_of: datetime


def alert_id(order_id: str, state: SlaState, episode_start: datetime) -> uuid.UUID:
    """The deterministic id of the alert of ``order_id`` entering ``state`` for the
    episode starting at ``episode_start``."""
    instant = episode_start.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid.uuid5(ALERT_NAMESPACE, f"{order_id}|{state.value}|{instant}")


def episode_start(order: SlaInput, sla: OrderSla, policy: SlaPolicy) -> datetime:
    """When the alert-worthy state ``sla.state`` of ``order`` began (raises ValueError
    for a state that is not alert-worthy)."""
    if sla.state is SlaState.BREACHED:
        return sla.deadline_at
    if sla.state is SlaState.AT_RISK and sla.at_risk_reason is not None:
        return at_risk_since(order, policy, sla.at_risk_reason, sla.deadline_at)
    raise ValueError(f"{sla.state.value} is not an alert-worthy state")


def next_alert(
    order: SlaInput,
    sla: OrderSla,
    policy: SlaPolicy,
    last: AlertedState | None,
    *,
    as_of: datetime,
    caused_by_event_at: datetime | None,
) -> tuple[SlaAlert, AlertedState] | None:
    """The alert due for ``order`` now that it is in ``sla.state`` (evaluated at
    ``as_of``), and what to remember as announced; ``None`` when nothing is due.

    Due: entering an alert-worthy state other than the one last announced, or
    leaving the alert-worthy state last announced for one that is not.
    """
    was_alerting = last is not None and last.state in ALERT_STATES
    previous = last.state if last is not None else None
    if sla.state in ALERT_STATES:
        if last is not None and last.state is sla.state:
            return None
        start = episode_start(order, sla, policy)
        reason = (
            AlertReason(sla.at_risk_reason.value)
            if sla.state is SlaState.AT_RISK and sla.at_risk_reason is not None
            else AlertReason.DEADLINE_PASSED
        )
    elif was_alerting:
        assert last is not None
        start = last.episode_start  # the episode left
        reason = _SETTLED_REASON[sla.state]
    else:
        return None
    alert = SlaAlert(
        alert_id=alert_id(order.order_id, sla.state, start),
        order_id=order.order_id,
        state=sla.state,
        previous_state=previous,
        reason=reason,
        deadline_at=sla.deadline_at,
        episode_start=start,
        caused_by_event_at=caused_by_event_at,
        as_of=as_of,
    )
    return alert, AlertedState(sla.state, start, as_of)


def encode_alert(alert: SlaAlert) -> bytes:
    """The alert as one JSON object (UTF-8), as published."""
    return alert.model_dump_json().encode("utf-8")


def alert_json_schema() -> dict[str, object]:
    """The published JSON Schema of an alert."""
    schema = SlaAlert.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


__all__ = [
    "ALERT_STATES",
    "AlertReason",
    "AlertedState",
    "SlaAlert",
    "alert_id",
    "alert_json_schema",
    "encode_alert",
    "episode_start",
    "next_alert",
]

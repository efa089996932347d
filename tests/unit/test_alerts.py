"""SLA alerts: which changes are announced, with which ids and episodes.

The expected alerts are written from docs/sla.md (the at-risk rules and the alert
section), ids included: uuid5 of "order|state|episode start" in the documented
namespace, so a change of the id recipe fails here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from consumer.alerts import decide
from consumer.ports import AlertSubject
from domain.alerts import AlertedState, AlertReason, SlaAlert, encode_alert, next_alert
from domain.events import ShippingTier
from domain.sla import DEFAULT_POLICY, AtRiskReason, SlaInput, SlaState, at_risk_since, evaluate

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
D = timedelta(days=1)
US = timedelta(microseconds=1)
NAMESPACE = uuid.UUID("6f0d2a3e-5c1b-5e7a-9a43-2f51c0b7e8d4")  # docs/sla.md


def doc_id(order_id: str, state: str, start: datetime) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{order_id}|{state}|{start.isoformat(timespec='microseconds')}")


def standard(**kw: object) -> SlaInput:
    # standard tier: 5 days, ship within 48 h, at risk with < 25 % of the window left
    return SlaInput(order_id="o-1", created_at=T0, shipping_tier=ShippingTier.STANDARD, **kw)  # type: ignore[arg-type]


def alert_at(
    order: SlaInput, as_of: datetime, last: AlertedState | None
) -> tuple[SlaAlert, AlertedState] | None:
    sla = evaluate(order, DEFAULT_POLICY, as_of)
    assert sla is not None
    return next_alert(order, sla, DEFAULT_POLICY, last, as_of=as_of, caused_by_event_at=None)


def test_entering_at_risk_for_not_shipping_is_announced_with_its_episode() -> None:
    due = alert_at(standard(), T0 + 49 * H, None)
    assert due is not None
    alert, remembered = due
    assert (alert.state, alert.previous_state, alert.reason) == (
        SlaState.AT_RISK,
        None,
        AlertReason.NOT_SHIPPED,
    )
    assert alert.episode_start == T0 + 48 * H
    assert alert.deadline_at == T0 + 5 * D
    assert alert.alert_id == doc_id("o-1", "at_risk", T0 + 48 * H)
    assert remembered == AlertedState(SlaState.AT_RISK, T0 + 48 * H, T0 + 49 * H)


def test_staying_in_the_announced_state_is_not_announced_again() -> None:
    last = AlertedState(SlaState.AT_RISK, T0 + 48 * H, T0 + 49 * H)
    assert alert_at(standard(), T0 + 60 * H, last) is None
    assert alert_at(standard(), T0 + H, None) is None  # on track, nothing announced
    assert alert_at(standard(delivered_at=T0 + D), T0 + 2 * D, None) is None  # met quietly


def test_crossing_the_deadline_then_late_delivery() -> None:
    at_risk = AlertedState(SlaState.AT_RISK, T0 + 48 * H, T0 + 49 * H)
    due = alert_at(standard(), T0 + 5 * D + US, at_risk)
    assert due is not None
    breached, remembered = due
    assert (breached.state, breached.previous_state, breached.reason) == (
        SlaState.BREACHED,
        SlaState.AT_RISK,
        AlertReason.DEADLINE_PASSED,
    )
    assert breached.alert_id == doc_id("o-1", "breached", T0 + 5 * D)
    late = alert_at(
        standard(shipped_at=T0 + 6 * D, delivered_at=T0 + 6 * D), T0 + 7 * D, remembered
    )
    assert late is not None
    assert (late[0].state, late[0].previous_state, late[0].reason) == (
        SlaState.MISSED,
        SlaState.BREACHED,
        AlertReason.DELIVERED,
    )
    # the leaving alert belongs to the episode it ends
    assert late[0].alert_id == doc_id("o-1", "missed", T0 + 5 * D)


def test_back_on_track_and_a_second_episode_get_distinct_ids() -> None:
    first = AlertedState(SlaState.AT_RISK, T0 + 48 * H, T0 + 49 * H)
    shipped = standard(shipped_at=T0 + 50 * H)
    back = alert_at(shipped, T0 + 51 * H, first)
    assert back is not None
    assert (back[0].state, back[0].reason) == (SlaState.ON_TRACK, AlertReason.BACK_ON_TRACK)
    assert back[0].alert_id == doc_id("o-1", "on_track", T0 + 48 * H)
    failed = standard(shipped_at=T0 + 50 * H, first_failed_at=T0 + 70 * H)
    again = alert_at(failed, T0 + 71 * H, back[1])
    assert again is not None
    assert (again[0].state, again[0].previous_state, again[0].reason) == (
        SlaState.AT_RISK,
        SlaState.ON_TRACK,
        AlertReason.DELIVERY_FAILED,
    )
    assert again[0].alert_id == doc_id("o-1", "at_risk", T0 + 70 * H)
    assert again[0].alert_id != doc_id("o-1", "at_risk", T0 + 48 * H)


def test_deadline_near_episode_starts_at_the_quarter_left() -> None:
    order = standard(promised_delivery_at=T0 + 4 * H, shipped_at=T0 + H)
    due = alert_at(order, T0 + 3 * H + US, None)
    assert due is not None
    assert due[0].reason is AlertReason.DEADLINE_NEAR
    assert due[0].episode_start == T0 + 3 * H


@pytest.mark.parametrize(
    ("order", "reason", "start"),
    [
        (standard(), AtRiskReason.NOT_SHIPPED, T0 + 48 * H),
        (
            standard(shipped_at=T0 + H, first_failed_at=T0 + 30 * H),
            AtRiskReason.DELIVERY_FAILED,
            T0 + 30 * H,
        ),
        (standard(shipped_at=T0 + H), AtRiskReason.DEADLINE_NEAR, T0 + 5 * D - 30 * H),
    ],
)
def test_at_risk_since_is_the_boundary_of_the_rule(
    order: SlaInput, reason: AtRiskReason, start: datetime
) -> None:
    due = T0 + 5 * D
    assert at_risk_since(order, DEFAULT_POLICY, reason, due) == start
    before = evaluate(order, DEFAULT_POLICY, start - US)
    after = evaluate(order, DEFAULT_POLICY, start + US)
    assert before is not None and after is not None
    assert before.state is SlaState.ON_TRACK
    assert (after.state, after.at_risk_reason) == (SlaState.AT_RISK, reason)


def test_alert_json_round_trips_with_the_documented_fields() -> None:
    due = alert_at(standard(), T0 + 49 * H, None)
    assert due is not None
    payload = json.loads(encode_alert(due[0]))
    assert set(payload) == {
        "alert_id",
        "schema_version",
        "order_id",
        "state",
        "previous_state",
        "reason",
        "deadline_at",
        "episode_start",
        "caused_by_event_at",
        "as_of",
    }
    assert payload["state"] == "at_risk" and payload["previous_state"] is None
    assert SlaAlert.model_validate_json(encode_alert(due[0])) == due[0]


def test_decide_never_evaluates_an_order_earlier_than_last_announced() -> None:
    # swept as breached at the wall clock; a batch of older event time must not undo it
    last = AlertedState(SlaState.BREACHED, T0 + 5 * D, T0 + 6 * D)
    subject = AlertSubject(standard(shipped_at=T0 + D), T0 + D, last)
    assert decide([subject], DEFAULT_POLICY, T0 + 2 * D, by_event=True) == []
    fresh = AlertSubject(standard(), T0 + H, None)
    (change,) = decide([fresh], DEFAULT_POLICY, T0 + 6 * D, by_event=True)
    assert change.before is None and change.after.state is SlaState.BREACHED
    assert change.alert.caused_by_event_at == T0 + H
    (swept,) = decide([fresh], DEFAULT_POLICY, T0 + 6 * D, by_event=False)
    assert swept.alert.caused_by_event_at is None


def test_decide_evaluates_an_order_no_earlier_than_its_latest_event() -> None:
    # delivered on time at T0+2D after a failed attempt; a batch as of the failure's time
    # (a late old event) must see the delivery, not an order at risk
    order = standard(shipped_at=T0 + D, first_failed_at=T0 + 1.5 * D, delivered_at=T0 + 2 * D)
    subject = AlertSubject(
        order, T0 + 2 * D, AlertedState(SlaState.AT_RISK, T0 + 1.5 * D, T0 + 1.5 * D)
    )
    (change,) = decide([subject], DEFAULT_POLICY, T0 + 1.6 * D, by_event=True)
    assert (change.alert.state, change.alert.as_of) == (SlaState.MET, T0 + 2 * D)
    fresh = AlertSubject(order, T0 + 2 * D, None)
    assert decide([fresh], DEFAULT_POLICY, T0 + 1.6 * D, by_event=True) == []

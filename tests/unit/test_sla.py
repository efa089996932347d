"""SLA arithmetic at its edges: deadlines, states, durations, rates, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.events import OrderCreated, ShippingTier, StatusChanged
from domain.lifecycle import OrderStatus
from domain.order import fold
from domain.sla import (
    DEFAULT_POLICY,
    AtRiskReason,
    SlaInput,
    SlaState,
    TierPolicy,
    add_business_days,
    deadline,
    evaluate,
    on_time_rate,
    percentile,
)

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
D = timedelta(days=1)


def order(tier: ShippingTier = ShippingTier.STANDARD, **kw: object) -> SlaInput:
    return SlaInput(order_id="o-1", created_at=T0, shipping_tier=tier, **kw)  # type: ignore[arg-type]


def test_policy_deadline_per_tier() -> None:
    assert deadline(order(ShippingTier.ECONOMY), DEFAULT_POLICY) == T0 + 7 * D
    assert deadline(order(ShippingTier.STANDARD), DEFAULT_POLICY) == T0 + 5 * D
    assert deadline(order(ShippingTier.EXPRESS), DEFAULT_POLICY) == T0 + 2 * D
    same_day = deadline(order(ShippingTier.SAME_DAY), DEFAULT_POLICY)
    assert same_day == datetime(2024, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)


def test_explicit_promise_wins_over_policy() -> None:
    promise = T0 + 3 * D + timedelta(microseconds=7)
    assert deadline(order(promised_delivery_at=promise), DEFAULT_POLICY) == promise


def test_delivered_exactly_at_deadline_is_on_time() -> None:
    due = T0 + 5 * D
    at_deadline = evaluate(order(shipped_at=T0 + H, delivered_at=due), DEFAULT_POLICY, due + D)
    assert at_deadline is not None and at_deadline.state is SlaState.MET
    assert at_deadline.lateness == timedelta(0) and at_deadline.on_time is True
    late = evaluate(order(delivered_at=due + timedelta(microseconds=1)), DEFAULT_POLICY, due + D)
    assert late is not None and late.state is SlaState.MISSED and late.on_time is False


def test_open_order_at_the_deadline_is_not_yet_breached() -> None:
    due = T0 + 5 * D
    shipped = order(shipped_at=T0 + H, out_for_delivery_at=due - H)
    at = evaluate(shipped, DEFAULT_POLICY, due)
    assert at is not None and at.state is SlaState.ON_TRACK
    after = evaluate(shipped, DEFAULT_POLICY, due + timedelta(microseconds=1))
    assert after is not None and after.state is SlaState.BREACHED
    assert after.lateness == timedelta(microseconds=1) and after.on_time is False


def test_offsets_do_not_change_the_instant() -> None:
    plus_five = timezone(timedelta(hours=5))
    local = SlaInput(
        order_id="o",
        created_at=T0.astimezone(plus_five),
        shipping_tier=ShippingTier.SAME_DAY,
        delivered_at=(T0 + 13 * H).astimezone(plus_five),
    )
    result = evaluate(local, DEFAULT_POLICY, T0 + D)
    # end of the UTC day of creation, whatever offset the event carried
    assert result is not None
    assert result.deadline_at == datetime(2024, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)
    assert result.state is SlaState.MET and result.lead_time == 13 * H


def test_same_day_created_late_evening_with_offset_uses_utc_day() -> None:
    # 2024-03-04 22:30 at -03:00 is 2024-03-05 01:30 UTC: the deadline is the end of 5 March UTC
    created = datetime(2024, 3, 4, 22, 30, tzinfo=timezone(timedelta(hours=-3)))
    o = SlaInput(order_id="o", created_at=created, shipping_tier=ShippingTier.SAME_DAY)
    assert deadline(o, DEFAULT_POLICY) == datetime(2024, 3, 5, 23, 59, 59, 999999, tzinfo=UTC)


def test_deadline_across_a_dst_change_is_exact_utc_days() -> None:
    # Deadlines are UTC: 5 days over the EU switch to summer time (31 March 2024) are 120 h.
    created = datetime(2024, 3, 29, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    o = SlaInput(order_id="o", created_at=created, shipping_tier=ShippingTier.STANDARD)
    assert deadline(o, DEFAULT_POLICY) - created == timedelta(hours=120)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (datetime(2024, 3, 4, 9, tzinfo=UTC), 1, datetime(2024, 3, 5, 9, tzinfo=UTC)),  # Mon
        (datetime(2024, 3, 8, 9, tzinfo=UTC), 1, datetime(2024, 3, 11, 9, tzinfo=UTC)),  # Fri
        (datetime(2024, 3, 9, 9, tzinfo=UTC), 1, datetime(2024, 3, 11, 9, tzinfo=UTC)),  # Sat
        (datetime(2024, 3, 10, 9, tzinfo=UTC), 1, datetime(2024, 3, 11, 9, tzinfo=UTC)),  # Sun
        (datetime(2024, 3, 7, 9, tzinfo=UTC), 2, datetime(2024, 3, 11, 9, tzinfo=UTC)),  # Thu
        (datetime(2024, 3, 8, 9, tzinfo=UTC), 5, datetime(2024, 3, 15, 9, tzinfo=UTC)),
        (datetime(2024, 3, 9, 9, tzinfo=UTC), 5, datetime(2024, 3, 15, 9, tzinfo=UTC)),
        (datetime(2024, 3, 4, 9, tzinfo=UTC), 12, datetime(2024, 3, 20, 9, tzinfo=UTC)),
        (datetime(2024, 3, 9, 9, tzinfo=UTC), 0, datetime(2024, 3, 9, 9, tzinfo=UTC)),
    ],
)
def test_business_days(start: datetime, days: int, expected: datetime) -> None:
    assert add_business_days(start, days) == expected


def test_business_day_policy_with_end_of_day() -> None:
    policy = {ShippingTier.EXPRESS: TierPolicy(promise_days=1, business_days=True, end_of_day=True)}
    friday = SlaInput(
        order_id="o",
        created_at=datetime(2024, 3, 8, 15, tzinfo=UTC),
        shipping_tier=ShippingTier.EXPRESS,
    )
    assert deadline(friday, policy) == datetime(2024, 3, 11, 23, 59, 59, 999999, tzinfo=UTC)


def test_missing_milestones_give_missing_durations() -> None:
    # delivered without a recorded shipment: a lead time but no ship or transit time
    result = evaluate(order(delivered_at=T0 + 2 * D), DEFAULT_POLICY, T0 + 3 * D)
    assert result is not None and result.state is SlaState.MET
    assert result.lead_time == 2 * D
    assert result.time_to_ship is None and result.time_in_transit is None


def test_milestones_after_as_of_have_not_happened() -> None:
    o = order(shipped_at=T0 + 2 * H, delivered_at=T0 + 2 * D)
    early = evaluate(o, DEFAULT_POLICY, T0 + H)
    assert early is not None and early.state is SlaState.ON_TRACK
    assert early.time_to_ship is None and early.lead_time is None
    assert evaluate(o, DEFAULT_POLICY, T0 - H) is None  # not created yet


def test_cancelled_is_excluded_from_the_on_time_rate() -> None:
    result = evaluate(order(cancelled_at=T0 + H), DEFAULT_POLICY, T0 + 9 * D)
    assert result is not None and result.state is SlaState.CANCELLED
    assert result.on_time is None and result.lateness is None
    assert on_time_rate([SlaState.MET, SlaState.CANCELLED]) == 1.0


@pytest.mark.parametrize("milestone", ["lost_at", "returned_at"])
def test_lost_and_returned_count_as_missed(milestone: str) -> None:
    o = order(ShippingTier.STANDARD, shipped_at=T0 + H, **{milestone: T0 + 2 * D})
    result = evaluate(o, DEFAULT_POLICY, T0 + 3 * D)
    assert result is not None and result.state is SlaState.LOST and result.on_time is False
    assert on_time_rate([SlaState.MET, SlaState.LOST]) == 0.5


def test_delivered_after_a_failed_attempt() -> None:
    o = order(
        shipped_at=T0 + H,
        out_for_delivery_at=T0 + 2 * D,
        first_failed_at=T0 + 2 * D + 4 * H,
        delivered_at=T0 + 3 * D,
    )
    during = evaluate(o, DEFAULT_POLICY, T0 + 2 * D + 5 * H)
    assert during is not None and during.state is SlaState.AT_RISK
    assert during.at_risk_reason is AtRiskReason.DELIVERY_FAILED
    after = evaluate(o, DEFAULT_POLICY, T0 + 4 * D)
    assert after is not None and after.state is SlaState.MET
    assert after.time_in_transit == 3 * D - H


def test_at_risk_rules() -> None:
    not_shipped = evaluate(order(), DEFAULT_POLICY, T0 + 48 * H + timedelta(microseconds=1))
    assert not_shipped is not None and not_shipped.at_risk_reason is AtRiskReason.NOT_SHIPPED
    exactly_48h = evaluate(order(), DEFAULT_POLICY, T0 + 48 * H)
    assert exactly_48h is not None and exactly_48h.state is SlaState.ON_TRACK
    # standard: 5 days window, 25 % left = 30 h before the deadline
    shipped = order(shipped_at=T0 + H)
    near = evaluate(shipped, DEFAULT_POLICY, T0 + 5 * D - 30 * H + timedelta(microseconds=1))
    assert near is not None and near.at_risk_reason is AtRiskReason.DEADLINE_NEAR
    edge = evaluate(shipped, DEFAULT_POLICY, T0 + 5 * D - 30 * H)
    assert edge is not None and edge.state is SlaState.ON_TRACK
    out = order(shipped_at=T0 + H, out_for_delivery_at=T0 + 4 * D)
    delivering = evaluate(out, DEFAULT_POLICY, T0 + 5 * D - H)
    assert delivering is not None and delivering.state is SlaState.ON_TRACK


def test_delivered_wins_over_an_illegal_later_cancellation() -> None:
    o = order(delivered_at=T0 + D, cancelled_at=T0 + 2 * D)
    result = evaluate(o, DEFAULT_POLICY, T0 + 3 * D)
    assert result is not None and result.state is SlaState.MET


def test_from_summary_of_folded_events() -> None:
    created = OrderCreated(
        event_id=uuid4(),
        order_id="o-9",
        occurred_at=T0,
        customer_id="c",
        customer_name="C",
        product_sku="p",
        product_name="P",
        quantity=1,
        unit_price=__import__("decimal").Decimal("1.00"),
        currency="EUR",
        shipping_tier=ShippingTier.EXPRESS,
        carrier="dhl",
        destination_region="EU",
    )
    shipped = StatusChanged(
        event_id=uuid4(), order_id="o-9", occurred_at=T0 + H, status=OrderStatus.SHIPPED
    )
    summaries = fold([shipped, created])
    sla_input = SlaInput.from_summary(summaries["o-9"])
    assert sla_input is not None and sla_input.shipped_at == T0 + H
    orphan = fold([shipped])["o-9"]
    assert SlaInput.from_summary(orphan) is None  # unknown: excluded


def test_on_time_rate_without_decided_orders_is_none() -> None:
    assert on_time_rate([SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.CANCELLED]) is None
    assert on_time_rate([SlaState.BREACHED, SlaState.MET]) == 0.5


def test_percentile_linear_interpolation() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 0.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(36.0)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)

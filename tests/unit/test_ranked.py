"""The one-pass order rules (domain.ranked) equal their readable statement (domain.order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain.events import Event, OrderCreated, ShippingTier, StatusChanged, event_status
from domain.lifecycle import OrderStatus
from domain.order import event_precedence, fold, judge_transitions
from domain.ranked import RankedEvents, fold_ranked, judge_ranked, rank_by_order

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
CHANGES = [s for s in OrderStatus if s is not OrderStatus.PENDING]


@st.composite
def events(draw: st.DrawFn) -> list[Event]:
    """Distinct events of up to three orders; few distinct times, so ties are common."""
    count = draw(st.integers(1, 14))
    ids = draw(st.lists(st.uuids(), min_size=count, max_size=count, unique=True))
    result: list[Event] = []
    for event_id in ids:
        order_id = draw(st.sampled_from(["ORD-A", "ORD-B", "ORD-C"]))
        at = T0 + timedelta(minutes=draw(st.integers(0, 4)))
        if draw(st.integers(0, 4)) == 0:
            result.append(_created(event_id, order_id, at, draw(st.integers(1, 5))))
        else:
            status = draw(st.sampled_from(CHANGES))
            result.append(
                StatusChanged(event_id=event_id, order_id=order_id, occurred_at=at, status=status)
            )
    return result


def _created(event_id: UUID, order_id: str, at: datetime, quantity: int) -> OrderCreated:
    return OrderCreated(
        event_id=event_id,
        order_id=order_id,
        occurred_at=at,
        customer_id=f"C-{quantity}",
        customer_name="Ada Lovelace",
        product_sku="SKU-1",
        product_name="Widget",
        quantity=quantity,
        unit_price=Decimal("9.99"),
        currency="EUR",
        shipping_tier=ShippingTier.STANDARD,
        carrier="dhl",
        destination_region="EU-West",
    )


def _ranked(batch: list[Event]) -> dict[str, RankedEvents]:
    return rank_by_order((str(e.event_id), e) for e in batch)


@given(events())
def test_ranking_is_precedence_order(batch: list[Event]) -> None:
    for order_id, ranked in _ranked(batch).items():
        mine = [e for e in batch if e.order_id == order_id]
        assert [event for _, _, event in ranked] == sorted(mine, key=event_precedence)
        assert [p for p, _, _ in ranked] == [event_precedence(e) for _, _, e in ranked]
        assert [s for _, s, _ in ranked] == [event_status(e) for _, _, e in ranked]


@given(events())
def test_fold_ranked_equals_the_fold(batch: list[Event]) -> None:
    ranked = _ranked(batch)
    assert {o: fold_ranked(o, r) for o, r in ranked.items()} == fold(batch)


@given(events())
def test_verdicts_with_nothing_earlier_equal_judge_transitions(batch: list[Event]) -> None:
    for order_id, ranked in _ranked(batch).items():
        verdicts: dict[str, bool | None] = {}
        illegal = judge_ranked(ranked, None, verdicts)
        expected = judge_transitions(e for e in batch if e.order_id == order_id)
        assert verdicts == {str(k): v for k, v in expected.items()}
        assert illegal == sum(v is False for v in expected.values())


@given(events(), st.sampled_from(list(OrderStatus)))
def test_verdicts_after_a_head_equal_judge_transitions_of_the_whole(
    batch: list[Event], head_status: OrderStatus
) -> None:
    # the head is a stored event before all of the batch: the batch continues from it
    head_at = T0 - timedelta(hours=1)
    for order_id, ranked in _ranked(batch).items():
        head: Event = (
            _created(UUID(int=0), order_id, head_at, 1)
            if head_status is OrderStatus.PENDING
            else StatusChanged(
                event_id=UUID(int=0), order_id=order_id, occurred_at=head_at, status=head_status
            )
        )
        verdicts: dict[str, bool | None] = {}
        judge_ranked(ranked, head_status, verdicts)
        whole = judge_transitions([head, *(e for e in batch if e.order_id == order_id)])
        del whole[head.event_id]
        assert verdicts == {str(k): v for k, v in whole.items()}

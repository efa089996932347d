"""The reference model of the fault suite (``tests.faults.reference``) on tiny hand-made streams.

Each expectation below is read off the documents (docs/lifecycle.md, docs/sla.md,
docs/consumer.md), not computed by the pipeline.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from tests.faults import reference, reference_wire
from tests.faults.reference import Invalid, Reference, parse
from tests.support.reference_messages import T0, changed, created, event_id


def test_the_reference_imports_nothing_of_the_pipeline() -> None:
    imported: set[str] = set()
    for module in (reference, reference_wire):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        imported |= {
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
    assert {"json", "tests.faults.reference_wire"} <= imported
    assert not {m for m in imported if m.split(".")[0] in {"consumer", "infra", "domain"}}


def test_status_follows_event_time_whatever_the_arrival_order() -> None:
    stream = [changed(3, "processing", 2), created(1), changed(2, "approved", 1)]
    for messages in (stream, stream[::-1], stream + stream):
        order = Reference.of(messages).orders["O-1"]
        assert order.latest.status == "processing"
        assert len(order.events) == 3 and order.illegal_transitions == 0
        assert set(order.verdicts().values()) == {True}


def test_an_orphan_waits_for_its_creation() -> None:
    alone = Reference.of([changed(2, "approved", 1)]).orders["O-1"]
    assert alone.creation is None and alone.latest.status == "approved"
    assert alone.verdicts() == {event_id(2): None}  # neither legal nor illegal yet
    assert alone.sla_state(T0 + timedelta(days=30)) is None  # "unknown": left out
    both = Reference.of([changed(2, "approved", 1), created(1)]).orders["O-1"]
    assert both.creation is not None and both.verdicts()[event_id(2)] is True


def test_illegal_moves_are_counted_and_still_set_milestones() -> None:
    stream = [created(1), changed(2, "shipped", 1), changed(3, "cancelled", 2)]
    order = Reference.of(stream).orders["O-1"]
    assert order.illegal_transitions == 2  # pending -> shipped, shipped -> cancelled
    assert order.latest.status == "cancelled"
    assert order.milestones()["shipped"] == T0 + timedelta(hours=1)


def test_ties_go_to_the_higher_rank_then_the_greater_event_id() -> None:
    stream = [created(1), changed(3, "delivered", 5), changed(2, "out_for_delivery", 5)]
    assert Reference.of(stream).orders["O-1"].latest.status == "delivered"
    stream = [created(1), changed(8, "lost", 5), changed(9, "lost", 5)]
    assert Reference.of(stream).orders["O-1"].latest.event_id == event_id(9)


def test_failed_attempts_and_first_milestone_times() -> None:
    steps = [
        "approved", "processing", "packed", "shipped", "in_transit", "out_for_delivery",
        "delivery_failed", "out_for_delivery", "delivery_failed", "returned_to_sender",
    ]  # fmt: skip
    stream = [created(1)] + [changed(n + 2, s, n + 1) for n, s in enumerate(steps)]
    order = Reference.of(stream).orders["O-1"]
    assert sum(e.status == "delivery_failed" for e in order.events) == 2
    assert order.milestones()["out_for_delivery"] == T0 + timedelta(hours=6)
    assert order.illegal_transitions == 0
    assert order.sla_state(T0 + timedelta(hours=11)) == "lost"


def test_duplicates_count_once_and_a_conflicting_one_is_rejected() -> None:
    first = changed(2, "approved", 1)
    conflicting = changed(2, "processing", 1)
    ref = Reference.of([created(1), first, first, conflicting])
    assert ref.duplicates == 1 and ref.conflicting == 1
    assert len(ref.orders["O-1"].events) == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"O-1", b"{"),
        (b"O-1", b"[]"),
        (b"O-1", b'{"event_type": "shipment"}'),
        (b"O-2", created(1)[1]),  # key is not the order id
        (None, created(1)[1]),
        (b"O-1", created(1, currency="XXX")[1]),
        (b"O-1", created(1, quantity=0)[1]),
        (b"O-1", created(1, unit_price="1.234")[1]),
        (b"O-1", created(1, padding="x")[1]),
        (b"O-1", created(1, occurred_at="2025-01-06T10:00:00")[1]),
        (b"O-1", created(1, occurred_at="2200-01-01T00:00:00+00:00")[1]),
        (b"O-1", changed(2, "pending", 1)[1]),
        (b"O-1", b'{"event_type": "status-changed", "event_type": "status-changed"}'),
    ],
)
def test_messages_that_can_never_be_valid(key: bytes | None, value: bytes) -> None:
    with pytest.raises(Invalid):
        parse(key, value)


def test_sla_states_of_docs_sla() -> None:
    # standard tier: 5 days, ship within 48 h, at risk with < 25 % of the window left
    order = Reference.of([created(1), changed(2, "approved", 1)]).orders["O-1"]
    assert order.sla_state(T0 + timedelta(hours=47)) == "on_track"
    assert order.sla_state(T0 + timedelta(hours=49)) == "at_risk/not_shipped"
    shipped = Reference.of([created(1), changed(2, "shipped", 1)]).orders["O-1"]
    assert shipped.sla_state(T0 + timedelta(days=3, hours=17)) == "on_track"  # 31 h > 25 % left
    assert shipped.sla_state(T0 + timedelta(days=4, hours=1)) == "at_risk/deadline_near"
    assert order.sla_state(T0 + timedelta(days=5, microseconds=1)) == "breached"
    on_time = [created(1), changed(2, "delivered", 24 * 5)]  # exactly at the deadline
    assert Reference.of(on_time).orders["O-1"].sla_state(T0 + timedelta(days=9)) == "met"
    promise = (T0 + timedelta(days=1) - timedelta(microseconds=1)).isoformat()
    late = [created(1, promised_delivery_at=promise), changed(2, "delivered", 24.0001)]
    assert Reference.of(late).orders["O-1"].sla_state(T0 + timedelta(days=9)) == "missed"
    same_day = [created(1, shipping_tier="same_day"), changed(2, "delivered", 13.99)]
    assert Reference.of(same_day).orders["O-1"].sla_state(T0 + timedelta(days=1)) == "met"
    assert order.sla_state(T0 - timedelta(seconds=1)) is None  # created after the as-of

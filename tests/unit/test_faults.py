"""Fault injection: each knob at about its rate, labelled, with exact reject reasons."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from domain.codec import EventDecodeError, RejectReason, decode_event
from domain.events import Event, OrderCreated
from domain.order import judge_transitions
from producer.faults import FaultConfig, inject_faults
from producer.simulation import SimulationConfig, simulate

ORDERS = 2000


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return simulate(SimulationConfig(orders=ORDERS, seed=21))


def test_off_by_default_gives_the_clean_stream(events: list[Event]) -> None:
    stream = inject_faults(events, FaultConfig(), seed=1)
    assert [m.event for m in stream.messages] == events
    assert stream.valid_events == events
    assert not stream.malformed
    assert all(m.key == m.event.order_id.encode() for m in stream.messages if m.event)


@pytest.mark.parametrize(
    ("knob", "fault", "per_order"),
    [
        ("duplicate_rate", "duplicate", False),
        ("reorder_rate", "reorder", False),
        ("late_rate", "late", False),
        ("orphan_rate", "orphan", True),
        ("malformed_rate", "malformed", False),
        ("oversized_rate", "oversized", False),
        ("illegal_rate", "illegal", True),
    ],
)
def test_each_knob_produces_about_its_rate(
    events: list[Event], knob: str, fault: str, per_order: bool
) -> None:
    rate = 0.05
    stream = inject_faults(events, FaultConfig.from_rates({knob: rate}), seed=2)
    counts = stream.fault_counts()
    assert set(counts) == {fault}
    units = ORDERS if per_order else len(events)
    assert 0.6 * rate < counts[fault] / units < 1.4 * rate


def test_every_real_event_survives_all_faults(events: list[Event]) -> None:
    faults = FaultConfig(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.02)
    stream = inject_faults(events, faults, seed=3)
    valid_ids = {e.event_id for e in stream.valid_events}
    assert {e.event_id for e in events} <= valid_ids
    sent = {m.event.event_id for m in stream.messages if m.event is not None}
    assert sent == valid_ids
    assert sum(m.fault in ("malformed", "oversized") for m in stream.messages) == len(
        stream.malformed
    )


def test_malformed_messages_get_exactly_their_expected_reason(events: list[Event]) -> None:
    faults = FaultConfig(malformed_rate=0.2, oversized_rate=0.02)
    stream = inject_faults(events, faults, seed=4)
    reasons: Counter[RejectReason] = Counter()
    for message in stream.malformed:
        assert message.expected_reason is not None and message.event is None
        with pytest.raises(EventDecodeError) as caught:
            decode_event(message.value, key=message.key)
        assert caught.value.reason is message.expected_reason, message.value[:200]
        reasons[message.expected_reason] += 1
    # every reason decoding gives is exercised; conflicting_duplicate is judged at apply time
    assert set(reasons) == set(RejectReason) - {RejectReason.CONFLICTING_DUPLICATE}


def test_valid_messages_decode_under_their_key(events: list[Event]) -> None:
    stream = inject_faults(events[:3000], FaultConfig(0.1, 0.1, 0.1, 0.1, 0, 0.1), seed=5)
    for message in stream.messages:
        assert message.event is not None
        assert decode_event(message.value, key=message.key) == message.event


def test_only_injected_transitions_are_illegal(events: list[Event]) -> None:
    stream = inject_faults(events, FaultConfig(illegal_rate=0.1), seed=6)
    injected = {m.event.event_id for m in stream.messages if m.fault == "illegal" and m.event}
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in stream.valid_events:
        grouped[event.order_id].append(event)
    for order_events in grouped.values():
        verdicts = judge_transitions(order_events)
        ids = {e.event_id for e in order_events}
        if ids & injected:
            assert not all(verdicts[i] for i in ids & injected)
        else:
            assert all(verdicts.values())


def test_orphans_precede_their_creation(events: list[Event]) -> None:
    stream = inject_faults(events, FaultConfig(orphan_rate=0.2), seed=7)
    position = {
        (m.event.order_id, type(m.event)): i
        for i, m in reversed(list(enumerate(stream.messages)))
        if m.event is not None
    }
    orphans = [(i, m) for i, m in enumerate(stream.messages) if m.fault == "orphan"]
    assert orphans
    for i, message in orphans:
        assert message.event is not None
        assert i < position[(message.event.order_id, OrderCreated)]


def test_late_events_are_published_hours_behind(events: list[Event]) -> None:
    stream = inject_faults(events, FaultConfig(late_rate=0.05), seed=8)
    newest = 0
    lags = []
    for message in stream.messages:
        if message.fault == "late":
            lags.append(newest - message.timestamp_ms)
        newest = max(newest, message.timestamp_ms)
    assert lags and min(lags) > 3_600_000


def test_duplicates_repeat_the_same_bytes(events: list[Event]) -> None:
    stream = inject_faults(events, FaultConfig(duplicate_rate=0.1), seed=9)
    values = Counter(m.value for m in stream.messages)
    duplicates = [m for m in stream.messages if m.fault == "duplicate"]
    assert duplicates and all(values[m.value] >= 2 for m in duplicates)


def test_deterministic_per_seed(events: list[Event]) -> None:
    faults = FaultConfig(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.01)
    first = inject_faults(events, faults, seed=10).messages
    assert first == inject_faults(events, faults, seed=10).messages
    assert first != inject_faults(events, faults, seed=11).messages


def test_rates_are_validated() -> None:
    with pytest.raises(ValueError):
        FaultConfig(duplicate_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig.from_rates({"typo_rate": 0.1})

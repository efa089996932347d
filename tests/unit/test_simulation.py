"""The simulation: legal, forward-moving, deterministic and realistic."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.codec import decode_event, encode_event
from domain.events import Event, OrderCreated, event_status
from domain.lifecycle import TRANSITIONS, OrderStatus, is_terminal
from domain.order import fold, judge_transitions
from domain.sla import DEFAULT_POLICY, SlaInput, SlaState, evaluate
from producer.draws import lognormal_ms
from producer.messages import event_time_ms
from producer.simulation import (
    EPOCH,
    SimulationConfig,
    iter_events,
    iter_timed_events,
    order_id,
    simulate,
    to_datetime,
)
from producer.trusted import uuid4_from_bits

S = OrderStatus


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return simulate(SimulationConfig(orders=3000, seed=11))


def _by_order(events: list[Event]) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        grouped[event.order_id].append(event)
    return grouped


def test_every_lifecycle_is_legal_and_complete(events: list[Event]) -> None:
    for order_events in _by_order(events).values():
        assert isinstance(order_events[0], OrderCreated)
        assert all(judge_transitions(order_events).values())
    for summary in fold(events).values():
        assert is_terminal(summary.status)


def test_every_event_passes_the_strict_models(events: list[Event]) -> None:
    # the simulator builds events without validation: this is where they are checked
    for event in events:
        # built from the fields it says were set, as the simulator's keyword calls were
        validated = type(event).model_validate(event.model_dump(include=event.model_fields_set))
        assert validated == event
        assert validated.model_fields_set == event.model_fields_set
        assert encode_event(validated) == encode_event(event)
        assert decode_event(encode_event(event), key=event.order_id.encode()) == event


def test_uuid_shortcut_is_the_standard_version_4_uuid() -> None:
    rng = random.Random(1)
    for bits in [0, 2**128 - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        fast, standard = uuid4_from_bits(bits), UUID(int=bits, version=4)
        assert (fast, str(fast), hash(fast), fast.version) == (
            standard, str(standard), hash(standard), 4
        )  # fmt: skip


def test_to_datetime_is_exact_to_the_millisecond() -> None:
    rng = random.Random(2)
    samples = [0, 1, 999, 2**33 * 1000 - 1, 2**33 * 1000, -1, -86_400_001]
    samples += [rng.randrange(0, 2**33 * 1000) for _ in range(20_000)]
    for ms in samples:
        assert to_datetime(ms) == EPOCH + timedelta(milliseconds=ms), ms


def test_delays_draw_like_the_standard_lognormal() -> None:
    drawn, reference = random.Random(3), random.Random(3)
    for median, sigma in [(1000, 0.3), (60_000, 0.8), (3_600_000, 0.5)] * 300:
        expected = max(1000, int(reference.lognormvariate(math.log(median), sigma)))
        assert lognormal_ms(drawn.random, median, sigma) == expected


def test_orders_take_every_move_of_the_transition_table() -> None:
    config = SimulationConfig(orders=12_000, seed=4, cancel_rate=0.2, retry_rate=0.5)
    taken: set[tuple[OrderStatus, OrderStatus]] = set()
    for order_events in _by_order(simulate(config)).values():
        taken.update(itertools.pairwise(event_status(e) for e in order_events))
    assert taken == {(a, b) for a, moves in TRANSITIONS.items() for b in moves}


def test_event_times_move_forward(events: list[Event]) -> None:
    times = [e.occurred_at for e in events]
    assert times == sorted(times)
    for order_events in _by_order(events).values():
        stamps = [e.occurred_at for e in order_events]
        assert all(a < b for a, b in itertools.pairwise(stamps))
        assert all(t.microsecond % 1000 == 0 for t in stamps)  # ms precision = Kafka timestamp


def test_ids_are_unique_and_deterministic(events: list[Event]) -> None:
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.event_id.version == 4 for e in events)
    orders = [e.order_id for e in events if isinstance(e, OrderCreated)]
    assert orders == [order_id(11, n) for n in range(1, 3001)]


def test_same_seed_same_events_other_seed_other_events() -> None:
    config = SimulationConfig(orders=200, seed=5)
    assert simulate(config) == simulate(config)
    other = simulate(SimulationConfig(orders=200, seed=6))
    assert [e.event_id for e in other] != [e.event_id for e in simulate(config)]


def test_endless_stream_starts_like_the_finite_one() -> None:
    finite = simulate(SimulationConfig(orders=50, seed=3))
    endless = iter_events(SimulationConfig(orders=None, seed=3))
    # events of later orders can interleave at the end: compare the first orders' creations
    heads = [next(endless) for _ in range(100)]
    assert heads[:20] == finite[:20]


def test_start_time_option() -> None:
    start = datetime.fromisoformat("2024-03-01T08:00:00+01:00")
    events = simulate(SimulationConfig(orders=5, seed=1, start=start))
    assert events[0].occurred_at > start
    assert events[0].occurred_at - start < timedelta(days=1)


def test_branches_and_rates_are_realistic(events: list[Event]) -> None:
    summaries = fold(events)
    finals = Counter(s.status for s in summaries.values())
    assert 0.01 < finals[S.CANCELLED] / len(summaries) < 0.06
    assert finals[S.RETURNED_TO_SENDER] > 0
    assert finals[S.LOST] > 0
    assert any(s.failed_attempts for s in summaries.values() if s.status is S.DELIVERED)
    facts = [s.facts for s in summaries.values() if s.facts is not None]
    assert len({f.carrier for f in facts}) >= 4
    assert len({f.shipping_tier for f in facts}) == 4
    assert len({f.destination_region for f in facts}) >= 5
    explicit = sum(f.promised_delivery_at is not None for f in facts)
    assert 0.3 < explicit / len(facts) < 0.7
    as_of = events[-1].occurred_at
    states: Counter[SlaState] = Counter()
    for summary in summaries.values():
        order = SlaInput.from_summary(summary)
        assert order is not None
        result = evaluate(order, DEFAULT_POLICY, as_of)
        assert result is not None
        states[result.state] += 1
    missed = states[SlaState.MISSED] / (states[SlaState.MET] + states[SlaState.MISSED])
    assert 0.05 <= missed <= 0.15


def test_arrivals_vary_over_the_day(events: list[Event]) -> None:
    hours = Counter(e.occurred_at.hour for e in events if isinstance(e, OrderCreated))
    assert max(hours.values()) > 3 * min(hours.values())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"orders": -1},
        {"start": datetime(2025, 1, 1)},
        {"orders_per_hour": 0},
        {"cancel_rate": 1.5},
        {"customers": 0},
    ],
)
def test_bad_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**kwargs)  # type: ignore[arg-type]


def test_timed_events_carry_the_exact_event_time(events: list[Event]) -> None:
    timed = list(iter_timed_events(SimulationConfig(orders=3000, seed=11)))
    assert [event for _, event in timed] == events
    assert all(ms == event_time_ms(event) for ms, event in timed)

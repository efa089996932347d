"""Fault injection: turn a clean event stream into the messy one a real broker delivers.

Each fault is a separate knob with a rate, all off by default. The result
records which messages were made faulty and, for a malformed one, the
:class:`~domain.codec.RejectReason` that ``decode_event`` must give it, so
tests and the consumer's oracle know exactly what to expect. Malformed and
oversized messages are extra copies of real events: ``valid_events`` still
holds every real event.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.events import Event, OrderCreated, StatusChanged, event_status
from domain.lifecycle import CHANGE_STATUSES, OrderStatus, legal_next
from producer import malform
from producer.catalog import HOUR_MS
from producer.messages import OutgoingMessage, message_for


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault rates, each the expected share of eligible units that get the fault.

    duplicate, reorder, late, malformed, oversized: per real event; orphan and
    illegal: per order. Raises ``ValueError`` for a rate outside [0, 1].
    """

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    late_rate: float = 0.0
    orphan_rate: float = 0.0
    malformed_rate: float = 0.0
    illegal_rate: float = 0.0
    oversized_rate: float = 0.0
    #: How far behind its event time a late event is published, in hours (min, max).
    late_hours: tuple[float, float] = (2.0, 36.0)

    def __post_init__(self) -> None:
        for name in RATE_NAMES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        low, high = self.late_hours
        if not 0 < low <= high:
            raise ValueError("late_hours must be 0 < min <= max")

    @classmethod
    def from_rates(cls, rates: Mapping[str, float]) -> FaultConfig:
        """A config from ``{"duplicate_rate": 0.01, ...}``; unknown names raise ``ValueError``."""
        unknown = set(rates) - set(RATE_NAMES)
        if unknown:
            raise ValueError(f"unknown fault rates: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {name: float(rate) for name, rate in rates.items()}
        return cls(**values)

    @property
    def any(self) -> bool:
        return any(getattr(self, name) > 0 for name in RATE_NAMES)


#: Each fault rate and what it is a share of.
RATE_SUBJECTS: Mapping[str, str] = {
    "duplicate_rate": "events sent twice (same bytes)",
    "reorder_rate": "events swapped with their order's next event",
    "late_rate": "events published hours after their event time",
    "orphan_rate": "orders whose first status change precedes the creation",
    "malformed_rate": "events followed by a malformed copy",
    "illegal_rate": "orders given a status change the lifecycle forbids",
    "oversized_rate": "events followed by an oversized copy",
}
RATE_NAMES = tuple(RATE_SUBJECTS)


@dataclass(slots=True)
class FaultedStream:
    """Messages in publish order, plus what a correct consumer must end up with.

    ``valid_events``: distinct decodable events (illegal transitions included:
    they are valid messages), in event-time order. ``malformed``: messages that
    must be dead-lettered, each with its ``expected_reason``.
    """

    messages: list[OutgoingMessage]
    valid_events: list[Event]
    malformed: list[OutgoingMessage] = field(default_factory=list)

    def fault_counts(self) -> Counter[str]:
        """How many messages carry each fault."""
        return Counter(m.fault for m in self.messages if m.fault is not None)


def clean_stream(events: Iterable[Event], *, encode: bool = True) -> FaultedStream:
    """The messages of ``events`` in the given order, without faults.

    ``encode=False``: values are encoded on use (see ``message_for``).
    """
    valid = list(events)
    messages = [message_for(e, encode=encode) for e in valid]
    return FaultedStream(messages=messages, valid_events=valid)


def inject_faults(
    events: Iterable[Event], faults: FaultConfig, seed: int, *, encode: bool = True
) -> FaultedStream:
    """Publish-ordered messages for ``events`` (event-time order) with faults at ``faults`` rates.

    Deterministic for the same events, rates and ``seed``. Never raises for valid input.
    ``encode=False``: values of valid messages are encoded on use (see ``message_for``);
    malformed ones always carry their bytes.
    """
    if not faults.any:
        return clean_stream(events, encode=encode)
    rng = random.Random(f"faults:{seed}")
    real = list(events)
    valid = _with_illegal_transitions(real, faults.illegal_rate, rng)
    # Each message gets a sort slot; faults move slots, one final sort gives publish order.
    slots: list[tuple[float, int, OutgoingMessage]] = []
    illegal_ids = {e.event_id for e in valid} - {e.event_id for e in real}
    base = [
        message_for(e, "illegal" if e.event_id in illegal_ids else None, encode=encode)
        for e in valid
    ]
    position = [float(i) for i in range(len(base))]
    _orphan(valid, base, position, faults.orphan_rate, rng)
    _reorder(valid, base, position, faults.reorder_rate, rng)
    _late(valid, base, position, faults, rng)
    slots.extend((position[i], i, m) for i, m in enumerate(base))
    malformed: list[OutgoingMessage] = []
    tie = len(base)
    for i, message in enumerate(base):
        extras: list[OutgoingMessage] = []
        if rng.random() < faults.duplicate_rate:
            extras.append(message.with_fault("duplicate"))
        if rng.random() < faults.malformed_rate:
            extras.append(malform.mangle(valid[i], rng))
        if rng.random() < faults.oversized_rate:
            extras.append(malform.oversize(valid[i], rng))
        for extra in extras:
            # a copy goes out a little after the original, as a redelivery would
            slots.append((position[i] + rng.uniform(0.01, 20.0), tie, extra))
            tie += 1
            if extra.expected_reason is not None:
                malformed.append(extra)
    slots.sort(key=lambda slot: (slot[0], slot[1]))
    return FaultedStream(
        messages=[slot[2] for slot in slots], valid_events=valid, malformed=malformed
    )


def _by_order(events: list[Event]) -> dict[str, list[int]]:
    indexes: dict[str, list[int]] = defaultdict(list)
    for i, event in enumerate(events):
        indexes[event.order_id].append(i)
    return indexes


def _with_illegal_transitions(real: list[Event], rate: float, rng: random.Random) -> list[Event]:
    """``real`` plus, for about ``rate`` of orders, one status change the lifecycle forbids."""
    if rate <= 0:
        return real
    extra: list[Event] = []
    for indexes in _by_order(real).values():
        if rng.random() >= rate:
            continue
        after = rng.randrange(len(indexes))
        previous = real[indexes[after]]
        allowed = legal_next(event_status(previous)) | {event_status(previous)}
        forbidden = sorted(CHANGE_STATUSES - allowed)
        status = OrderStatus(rng.choice(forbidden))
        following = real[indexes[after + 1]] if after + 1 < len(indexes) else None
        gap = (
            (following.occurred_at - previous.occurred_at) / 2
            if following is not None
            else _hours(rng, 1.0, 12.0)
        )
        moment = previous.occurred_at + gap
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        extra.append(
            StatusChanged(
                event_id=UUID(int=rng.getrandbits(128), version=4),
                order_id=previous.order_id,
                occurred_at=moment,
                status=status,
            )
        )
    # stable sort: real events keep their order, an illegal one follows its neighbours in time
    return sorted([*real, *extra], key=lambda e: e.occurred_at)


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(milliseconds=int(rng.uniform(low, high) * HOUR_MS))


def _orphan(
    valid: list[Event],
    base: list[OutgoingMessage],
    position: list[float],
    rate: float,
    rng: random.Random,
) -> None:
    """For about ``rate`` of orders, publish the first status change before the creation."""
    if rate <= 0:
        return
    for indexes in _by_order(valid).values():
        if len(indexes) < 2 or not isinstance(valid[indexes[0]], OrderCreated):
            continue
        if rng.random() >= rate:
            continue
        creation, first_change = indexes[0], indexes[1]
        position[first_change] = position[creation] - 0.5
        base[first_change] = base[first_change].with_fault("orphan")


def _reorder(
    valid: list[Event],
    base: list[OutgoingMessage],
    position: list[float],
    rate: float,
    rng: random.Random,
) -> None:
    """For about ``rate`` of events, swap its publish slot with its order's next event."""
    if rate <= 0:
        return
    for indexes in _by_order(valid).values():
        for a, b in itertools.pairwise(indexes):
            if rng.random() >= rate or base[a].fault or base[b].fault:
                continue
            position[a], position[b] = position[b], position[a]
            base[a] = base[a].with_fault("reorder")


def _late(
    valid: list[Event],
    base: list[OutgoingMessage],
    position: list[float],
    faults: FaultConfig,
    rng: random.Random,
) -> None:
    """For about ``late_rate`` of events, publish it hours after its event time."""
    if faults.late_rate <= 0:
        return
    times = [m.timestamp_ms for m in base]  # event-time order, so sorted
    for i, message in enumerate(base):
        if rng.random() >= faults.late_rate or message.fault:
            continue
        due = message.timestamp_ms + int(rng.uniform(*faults.late_hours) * HOUR_MS)
        position[i] = bisect_left(times, due) - 0.5
        base[i] = message.with_fault("late")

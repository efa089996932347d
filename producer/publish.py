"""Publishing: simulated or replayed messages onto the two event topics.

Every message is keyed by order id (so one order stays on one partition). Its
Kafka timestamp is the time it is published, not its event time: the event time
travels in the JSON ``occurred_at`` (the consumer reads only that), and a topic
deletes by message timestamp, so history stamped with its own old event times
would be deleted by any finite retention soon after it was written. Delivery
reports are counted; the caller decides what a failure means (the CLI exits non-zero).
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from domain.codec import encode_event
from domain.events import Event
from producer.faults import FaultConfig, inject_faults
from producer.files import jsonl_line
from producer.messages import OutgoingMessage, TopicKind, timed_message
from producer.ports import EventPublisher
from producer.simulation import SimulationConfig, iter_events, iter_timed_events

_event_of = operator.attrgetter("event")

Progress = Callable[[int], None]

#: An endless simulation is faulted in chunks of this many events (bounded memory).
LIVE_CHUNK_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Where each kind of event goes."""

    order_created: str = "order-created"
    status_changed: str = "status-changed"

    def for_kind(self, kind: TopicKind) -> str:
        return self.order_created if kind == "order-created" else self.status_changed


@dataclass(slots=True)
class PublishResult:
    """Counts of one publishing run. ``failed`` includes messages never confirmed in time."""

    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.delivered == self.attempted

    def failure(self, client_error: str | None = None) -> str:
        """One line for a failed run: counts, first and last error, the client's error."""
        reasons = self.errors[:1] + self.errors[1:][-1:]
        if client_error:
            reasons.append(f"last client error: {client_error}")
        why = "; ".join(dict.fromkeys(reasons)) or "no delivery report"
        return f"{self.failed} of {self.attempted} messages not delivered ({why})"

    @property
    def rate(self) -> float:
        """Delivered messages per second of wall time."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0


def planned_messages(
    config: SimulationConfig, faults: FaultConfig, *, encode: bool = True
) -> Iterator[OutgoingMessage]:
    """The messages of a simulation in publish order (the same ones ``generate`` writes).

    A finite simulation is faulted as a whole; an endless one (``orders=None``) in
    chunks of :data:`LIVE_CHUNK_EVENTS` events, each with its own derived seed.
    ``encode=False`` leaves the values of valid messages to be encoded on use
    (``OutgoingMessage.value``): for the CSV writer, which reads only the events.
    """
    if not faults.any:
        # starmap, not a generator expression: one Python frame less per event
        timed = iter_timed_events(config)
        return itertools.starmap(
            timed_message if encode else partial(timed_message, encode=False), timed
        )
    events = iter_events(config)
    if config.orders is not None:
        return iter(inject_faults(events, faults, config.seed, encode=encode).messages)
    return _chunked(events, faults, config.seed, encode)


def planned_events(config: SimulationConfig, faults: FaultConfig) -> Iterator[Event | None]:
    """The events of :func:`planned_messages` in the same order, ``None`` for a malformed one.

    What the CSV writer needs: a clean simulation's events straight from the simulator.
    """
    if not faults.any:
        return iter_events(config)
    return map(_event_of, planned_messages(config, faults, encode=False))


def planned_lines(config: SimulationConfig, faults: FaultConfig) -> Iterator[bytes | None]:
    """:func:`planned_messages` as JSONL lines (``files.jsonl_line``), ``None`` for unsafe ones.

    A clean simulation's events are encoded straight from the simulator: encoded JSON
    escapes every control character, so each is one line.
    """
    if not faults.any:
        return map(encode_event, iter_events(config))
    return map(jsonl_line, planned_messages(config, faults))


def _chunked(
    events: Iterator[Event], faults: FaultConfig, seed: int, encode: bool
) -> Iterator[OutgoingMessage]:
    for number in itertools.count():
        chunk = list(itertools.islice(events, LIVE_CHUNK_EVENTS))
        if not chunk:
            return
        yield from inject_faults(chunk, faults, seed * 1_000_003 + number, encode=encode).messages


def publish(
    messages: Iterable[OutgoingMessage],
    publisher: EventPublisher,
    topics: TopicNames,
    *,
    rate: float | None = None,
    speed: float | None = None,
    duration_s: float | None = None,
    live: bool = False,
    progress: Progress | None = None,
    flush_timeout_s: float = 60.0,
) -> PublishResult:
    """Send ``messages`` in order and wait for their delivery reports.

    Each message's Kafka timestamp is its publish time (see the module docstring).
    ``rate``: at most that many messages per second. ``speed``: keep the gaps between
    event times, divided by ``speed``. ``duration_s``: stop sending after that long.
    ``live``: never send a message before the wall clock reaches its event time (a
    simulation that started in the past catches up at once, then runs in real time).
    Broker errors are counted in the result, never raised. Sending stops at the first
    failed delivery (the run has failed; the rest would fail the same way), and
    messages still unconfirmed ``flush_timeout_s`` after the last send count as failed.
    """
    start = time.monotonic()
    failed_before = publisher.failed
    deadline = None if duration_s is None else start + duration_s
    paced = rate is not None or speed is not None or deadline is not None or live
    first_ts: int | None = None
    wall_ms_at_start = time.time() * 1000.0
    attempted = 0
    poll = publisher.serve
    produce = publisher.queue
    topic_of = {"order-created": topics.order_created, "status-changed": topics.status_changed}
    for message in messages:
        if paced:
            now = time.monotonic()
            if (deadline is not None and now >= deadline) or publisher.failed > failed_before:
                break
            due = now
            if rate is not None:
                due = start + attempted / rate
            elif speed is not None:
                first_ts = message.timestamp_ms if first_ts is None else first_ts
                due = start + (message.timestamp_ms - first_ts) / 1000.0 / speed
            if live:
                due = max(due, start + (message.timestamp_ms - wall_ms_at_start) / 1000.0)
                if deadline is not None and due > deadline:
                    while deadline > now:  # its event time comes after the run: not sent
                        poll(min(0.05, deadline - now))
                        now = time.monotonic()
                    break
            if deadline is not None:
                due = min(due, deadline)
            while due > now:  # wait, serving delivery reports meanwhile
                poll(min(0.05, due - now))
                now = time.monotonic()
        value = message.encoded  # the field, not the property: this runs once per message
        if value is None:
            value = message.value
        try:
            produce(topic_of[message.topic_kind], value, message.key)
        except BufferError:  # local queue full: serve reports until there is room
            _queue_when_room(publisher, topic_of[message.topic_kind], value, message.key)
        attempted += 1
        if attempted & 1023 == 0:
            poll(0)
            if progress is not None:
                progress(attempted)
            if publisher.failed > failed_before:
                break
    undelivered = publisher.drain(flush_timeout_s)
    if progress is not None:
        progress(attempted)
    errors = list(publisher.errors)
    if undelivered:
        errors.append(f"{undelivered} messages not confirmed within {flush_timeout_s:g}s")
    # only failures are reported: what left the producer without one was delivered
    failed = publisher.failed - failed_before + undelivered
    return PublishResult(
        attempted=attempted,
        delivered=attempted - failed,
        failed=failed,
        elapsed_s=time.monotonic() - start,
        errors=errors,
    )


def _queue_when_room(publisher: EventPublisher, topic: str, value: bytes, key: bytes) -> None:
    """Queue one message, serving delivery reports while the local queue is full."""
    while True:
        try:
            publisher.queue(topic, value, key)
            return
        except BufferError:
            publisher.serve(0.05)

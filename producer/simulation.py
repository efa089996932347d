"""A seeded state machine that walks simulated orders through the lifecycle.

Same :class:`SimulationConfig` (seed included), same events, byte for byte:
all randomness comes from one ``random.Random`` and one seeded Faker
instance, never from global state, and event ids are drawn from that
``Random``. Every order takes only legal moves (``domain.lifecycle``) and its
event times strictly increase; the stream is in event-time order. Events are
built without validation (:mod:`producer.trusted`): the values are valid by
construction, and the unit tests hold every simulated event to the strict models.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import operator
import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from faker import Faker

from domain.events import ORDER_CREATED, SCHEMA_VERSION, Event, OrderCreated, ShippingTier
from domain.lifecycle import OrderStatus
from domain.sla import DEFAULT_POLICY, SlaInput, deadline
from producer import catalog
from producer.catalog import DAY_MS, HOUR_MS, Carrier, Region, Tier
from producer.trusted import status_changed, trusted_event, uuid4_from_bits

S = OrderStatus
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
MINUTE_MS = 60_000
#: Same-day delivery is sold only to orders placed before this hour (UTC).
SAME_DAY_CUTOFF_HOUR = 13

#: Stages at which an order may be cancelled (before the carrier has it).
_CANCELLABLE = (S.PENDING, S.APPROVED, S.PROCESSING, S.PACKED)
_LOSABLE = (S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY)
_QUANTITIES = (1, 2, 3, 4, 5, 6)
_QUANTITY_WEIGHTS = tuple(itertools.accumulate((70, 17, 7, 3, 2, 1)))
#: Up to here a float number of seconds still pins every millisecond exactly (the
#: rounding error stays below half a microsecond); beyond it ``to_datetime`` goes exact.
_FLOAT_EXACT_MS = 2**33 * 1000
_CREATED_FIELDS = frozenset(OrderCreated.model_fields) - {"schema_version", "event_type"}
#: A waiting event: (event time ms, order number, order id, event id bits, the creation
#: or the status a change reports).
_Pending = tuple[int, int, str, int, "OrderCreated | OrderStatus"]
_log, _exp = math.log, math.exp
_NV_MAGICCONST = 4 * math.exp(-0.5) / math.sqrt(2.0)  # as in the random module
_from_timestamp = datetime.fromtimestamp
_second = operator.itemgetter(1)
_NEVER = 2**63  # later than any event time


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. ``orders=None`` means an endless stream (stop by consuming less).

    Raises ``ValueError`` on construction for out-of-range values or a naive ``start``.
    """

    orders: int | None = 1000
    seed: int = 0
    start: datetime = DEFAULT_START
    orders_per_hour: float = 60.0
    customers: int = 2000
    explicit_promise_rate: float = 0.5
    cancel_rate: float = 0.03
    #: Share of shipments hit by a disruption (weather, hub backlog) that stretches transit.
    disruption_rate: float = 0.09
    #: Chance that a failed delivery is tried again rather than returned to sender.
    retry_rate: float = 0.8
    max_attempts: int = 3
    locale: str = "en_US"

    def __post_init__(self) -> None:
        if self.orders is not None and self.orders < 0:
            raise ValueError("orders must be >= 0")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must carry a UTC offset")
        if not 0 < self.orders_per_hour <= 10_000_000:
            raise ValueError("orders_per_hour must be in (0, 10000000]")
        if self.customers < 1:
            raise ValueError("customers must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        for name in ("explicit_promise_rate", "cancel_rate", "disruption_rate", "retry_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


def order_id(seed: int, n: int) -> str:
    """The id of the ``n``-th order (from 1) of the simulation with ``seed``."""
    return f"ORD-{seed}-{n:07d}"


def to_datetime(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime (exact)."""
    if 0 <= ms < _FLOAT_EXACT_MS:
        return _from_timestamp(ms / 1000, UTC)  # half the cost of timedelta arithmetic
    return EPOCH + timedelta(milliseconds=ms)


def to_ms(moment: datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch (sub-ms truncated)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def simulate(config: SimulationConfig) -> list[Event]:
    """All events of ``config.orders`` orders, in event-time order.

    Raises ``ValueError`` for an endless configuration (``orders=None``).
    """
    if config.orders is None:
        raise ValueError("simulate() needs a finite number of orders; use iter_events()")
    return list(iter_events(config))


def iter_events(config: SimulationConfig) -> Iterator[Event]:
    """The events of the simulation, lazily, in event-time order (ties: order, then step)."""
    return map(_second, _Simulator(config).timed_events())


def iter_timed_events(config: SimulationConfig) -> Iterator[tuple[int, Event]]:
    """:func:`iter_events`, each with its event time in ms since the epoch.

    The time is exactly ``event_time_ms(event)`` (the Kafka timestamp), known here
    without converting the datetime back.
    """
    return _Simulator(config).timed_events()


class _Simulator:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.random = self.rng.random
        self.customers = _customers(config.locale, config.seed, config.customers)
        self.carrier_weights = _cumulative(c.share for c in catalog.CARRIERS)
        self.region_weights = _cumulative(r.share for r in catalog.REGIONS)
        self.tiers = tuple(catalog.TIERS.values())
        self.tier_weights = _cumulative(t.share for t in self.tiers)
        self.product_weights = _cumulative(p.popularity for p in catalog.PRODUCTS)
        mean = sum(catalog.HOURLY_ARRIVAL) / len(catalog.HOURLY_ARRIVAL)
        # expected gap in ms between orders for each hour of the day
        self.mean_gap_ms = [
            HOUR_MS / (config.orders_per_hour * weight / mean) for weight in catalog.HOURLY_ARRIVAL
        ]

    def timed_events(self) -> Iterator[tuple[int, Event]]:
        # Events wait on a heap until no later order can come before them. A status change
        # waits as a compact tuple (its id drawn already) and becomes an event only when
        # it leaves: tens of thousands wait at any time, and full events there would cost
        # memory and garbage-collector passes. (time, order number) is unique (within an
        # order times strictly increase), so the rest of an entry is never compared.
        pending: list[_Pending] = []
        pop = heapq.heappop
        clock = to_ms(self.config.start)
        last = self.config.orders
        numbers = itertools.count(1) if last is None else range(1, last + 1)
        for n in itertools.chain(numbers, [0]):  # 0: no more orders, release everything
            clock = clock + self._gap(clock) if n else _NEVER
            # every pending event belongs to an earlier order: it goes first on a tie
            while pending and pending[0][0] <= clock:
                at, _, oid, id_bits, what = pop(pending)
                if what.__class__ is OrderCreated:
                    yield at, what
                else:
                    yield at, status_changed(id_bits, oid, to_datetime(at), what)  # type: ignore[arg-type]
            if n:
                self._order(n, clock, pending)

    def _gap(self, clock: int) -> int:
        hour = (clock // HOUR_MS) % 24
        return max(1, int(self.rng.expovariate(1.0) * self.mean_gap_ms[hour]))

    def _uuid(self) -> UUID:
        return uuid4_from_bits(self.rng.getrandbits(128))

    def _order(self, n: int, created_ms: int, pending: list[_Pending]) -> None:
        """Push the events of order ``n`` onto the ``pending`` heap."""
        rng, push = self.rng, heapq.heappush
        oid = order_id(self.config.seed, n)
        carrier = catalog.CARRIERS[_pick(rng, self.carrier_weights)]
        region = catalog.REGIONS[_pick(rng, self.region_weights)]
        tier = self.tiers[_pick(rng, self.tier_weights)]
        product = catalog.PRODUCTS[_pick(rng, self.product_weights)]
        customer_id, customer_name = self.customers[rng.randrange(len(self.customers))]
        if (
            tier.tier is ShippingTier.SAME_DAY
            and (created_ms // HOUR_MS) % 24 >= SAME_DAY_CUTOFF_HOUR
        ):
            tier = catalog.TIERS[ShippingTier.EXPRESS]  # too late for same day: sold as express
        promised = None
        if rng.random() < self.config.explicit_promise_rate:
            promised = self._explicit_promise(created_ms, tier.tier)
        event_id = self._uuid()  # drawn before the quantity, as always
        fields = {
            "event_id": event_id,
            "schema_version": SCHEMA_VERSION,
            "order_id": oid,
            "occurred_at": to_datetime(created_ms),
            "event_type": ORDER_CREATED,
            "customer_id": customer_id,
            "customer_name": customer_name,
            "product_sku": product.sku,
            "product_name": product.name,
            "quantity": _QUANTITIES[_pick(rng, _QUANTITY_WEIGHTS)],
            "unit_price": product.unit_price,
            "currency": catalog.CURRENCY,
            "shipping_tier": tier.tier,
            "carrier": carrier.code,
            "destination_region": region.name,
            "promised_delivery_at": promised,
        }
        created = trusted_event(OrderCreated, fields, _CREATED_FIELDS)
        push(pending, (created_ms, n, oid, 0, created))
        # every step is a legal move (_walk follows the lifecycle; the unit tests judge
        # each simulated order): no check here, it would cost more than the step
        for at, status in self._walk(created_ms, carrier, region, tier):
            push(pending, (at, n, oid, rng.getrandbits(128), status))

    @staticmethod
    def _explicit_promise(created_ms: int, tier: ShippingTier) -> datetime:
        # the shop shows the default policy's deadline rounded up to the full hour
        due = deadline(SlaInput("", to_datetime(created_ms), tier), DEFAULT_POLICY)
        return to_datetime(-(-to_ms(due) // HOUR_MS) * HOUR_MS)

    def _walk(
        self, t: int, carrier: Carrier, region: Region, tier: Tier
    ) -> Iterator[tuple[int, OrderStatus]]:
        """The (time, status) steps after creation; times strictly increase."""
        rng, config = self.rng, self.config
        cancel_at = rng.choice(_CANCELLABLE) if rng.random() < config.cancel_rate else None
        lost_at = rng.choice(_LOSABLE) if rng.random() < carrier.loss_rate else None
        same_day = tier.tier is ShippingTier.SAME_DAY
        warehouse = (
            (S.APPROVED, 4 * MINUTE_MS if same_day else 12 * MINUTE_MS, 0.8),
            (S.PROCESSING, 10 * MINUTE_MS if same_day else 25 * MINUTE_MS, 0.8),
            (S.PACKED, tier.pack_ms, 0.5),
            (S.SHIPPED, tier.handover_ms, 0.5),
        )
        reached = S.PENDING
        for status, median, sigma in warehouse:
            if cancel_at is reached:
                yield (t := t + self._delay(2 * HOUR_MS, 0.7)), S.CANCELLED
                return
            yield (t := t + self._delay(median, sigma)), status
            reached = status
        if lost_at is S.SHIPPED:
            yield t + self._delay(5 * DAY_MS, 0.3), S.LOST
            return
        hub_scan = HOUR_MS // 2 if same_day else 90 * MINUTE_MS
        yield (t := t + self._delay(hub_scan, 0.5)), S.IN_TRANSIT
        if lost_at is S.IN_TRANSIT:
            yield t + self._delay(5 * DAY_MS, 0.3), S.LOST
            return
        transit = tier.transit_ms * carrier.speed * region.distance
        if rng.random() < config.disruption_rate:
            transit *= rng.uniform(2.0, 3.5)
        yield (t := t + self._delay(int(transit), 0.3)), S.OUT_FOR_DELIVERY
        for attempt in range(1, config.max_attempts + 1):
            if lost_at is S.OUT_FOR_DELIVERY:
                yield t + self._delay(3 * DAY_MS, 0.3), S.LOST
                return
            if rng.random() >= carrier.failed_delivery_rate * attempt:
                yield t + self._delay(tier.drop_ms, 0.5), S.DELIVERED
                return
            yield (t := t + self._delay(tier.drop_ms, 0.5)), S.DELIVERY_FAILED
            if attempt == config.max_attempts or rng.random() >= config.retry_rate:
                break
            yield (t := t + self._delay(20 * HOUR_MS, 0.25)), S.OUT_FOR_DELIVERY
        yield t + self._delay(3 * DAY_MS, 0.4), S.RETURNED_TO_SENDER

    def _delay(self, median_ms: int, sigma: float) -> int:
        # log-normal: most steps near the median, a long tail of slow ones; >= 1 s keeps
        # an order's event times strictly increasing. This is random.lognormvariate
        # (Kinderman-Monahan normal, then exp) written out: same draws, same floats,
        # without two Python-level calls per step.
        random = self.random
        while True:
            u1 = random()
            u2 = 1.0 - random()
            z = _NV_MAGICCONST * (u1 - 0.5) / u2
            if z * z / 4.0 <= -_log(u2):
                break
        return max(1000, int(_exp(_log(median_ms) + z * sigma)))


@functools.lru_cache(maxsize=8)
def _customers(locale: str, seed: int, count: int) -> tuple[tuple[str, str], ...]:
    """The customer base: ids and Faker names (about 90 us a name, so kept per process)."""
    faker = Faker(locale)
    faker.seed_instance(seed)
    # the locale's generator itself: the same draws without the proxy's per-call lookup
    name = faker.factories[0].name
    return tuple((f"C{seed}-{k:06d}", name()[:120]) for k in range(count))


def _cumulative(weights: Iterator[float] | tuple[float, ...]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


def _pick(rng: random.Random, cumulative: tuple[float, ...]) -> int:
    return bisect(cumulative, rng.random() * cumulative[-1])

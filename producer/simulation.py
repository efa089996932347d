"""A seeded simulation of a shop's order stream, in event-time order.

Same :class:`SimulationConfig` (seed included), same events, byte for byte:
all randomness comes from one ``random.Random`` and one seeded Faker
instance, never from global state, and event ids are drawn from that
``Random``. Every order walks the lifecycle's transition table
(:mod:`producer.order_walk`) and its event times strictly increase; the stream
is in event-time order. Events are built without validation
(:mod:`producer.trusted`): the values are valid by construction, and the unit
tests hold every simulated event to the strict models.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import random
from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from domain.events import ORDER_CREATED, SCHEMA_VERSION, Event, OrderCreated, ShippingTier
from domain.lifecycle import OrderStatus
from domain.sla import DEFAULT_POLICY, SlaInput, deadline
from producer import catalog
from producer.catalog import HOUR_MS
from producer.clock import EPOCH, to_datetime, to_ms
from producer.customers import customer_base
from producer.draws import cumulative, pick
from producer.order_walk import OrderWalk
from producer.simulation_config import DEFAULT_START, SimulationConfig
from producer.trusted import status_changed, trusted_event, uuid4_from_bits

__all__ = [
    "DEFAULT_START",
    "EPOCH",
    "SimulationConfig",
    "iter_events",
    "iter_timed_events",
    "order_id",
    "simulate",
    "to_datetime",
    "to_ms",
]

#: Same-day delivery is sold only to orders placed before this hour (UTC).
SAME_DAY_CUTOFF_HOUR = 13
_QUANTITIES = (1, 2, 3, 4, 5, 6)
_QUANTITY_WEIGHTS = cumulative((70, 17, 7, 3, 2, 1))
_CREATED_FIELDS = frozenset(OrderCreated.model_fields) - {"schema_version", "event_type"}
#: A waiting event: (event time ms, order number, order id, event id bits, the creation
#: or the status a change reports).
_Pending = tuple[int, int, str, int, "OrderCreated | OrderStatus"]
_second = operator.itemgetter(1)
_NEVER = 2**63  # later than any event time


def order_id(seed: int, n: int) -> str:
    """The id of the ``n``-th order (from 1) of the simulation with ``seed``."""
    return f"ORD-{seed}-{n:07d}"


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
        self.walk = OrderWalk(self.rng, config)
        self.customers = customer_base(config.locale, config.seed, config.customers)
        self.carrier_weights = cumulative(c.share for c in catalog.CARRIERS)
        self.region_weights = cumulative(r.share for r in catalog.REGIONS)
        self.tiers = tuple(catalog.TIERS.values())
        self.tier_weights = cumulative(t.share for t in self.tiers)
        self.product_weights = cumulative(p.popularity for p in catalog.PRODUCTS)
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
        carrier = catalog.CARRIERS[pick(rng, self.carrier_weights)]
        region = catalog.REGIONS[pick(rng, self.region_weights)]
        tier = self.tiers[pick(rng, self.tier_weights)]
        product = catalog.PRODUCTS[pick(rng, self.product_weights)]
        customer_id, customer_name = self.customers[rng.randrange(len(self.customers))]
        if (
            tier.tier is ShippingTier.SAME_DAY
            and (created_ms // HOUR_MS) % 24 >= SAME_DAY_CUTOFF_HOUR
        ):
            tier = catalog.TIERS[ShippingTier.EXPRESS]  # too late for same day: sold as express
        promised = None
        if rng.random() < self.config.explicit_promise_rate:
            promised = _explicit_promise(created_ms, tier.tier)
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
            "quantity": _QUANTITIES[pick(rng, _QUANTITY_WEIGHTS)],
            "unit_price": product.unit_price,
            "currency": catalog.CURRENCY,
            "shipping_tier": tier.tier,
            "carrier": carrier.code,
            "destination_region": region.name,
            "promised_delivery_at": promised,
        }
        created = trusted_event(OrderCreated, fields, _CREATED_FIELDS)
        push(pending, (created_ms, n, oid, 0, created))
        for at, status in self.walk.steps(created_ms, carrier, region, tier):
            push(pending, (at, n, oid, rng.getrandbits(128), status))


def _explicit_promise(created_ms: int, tier: ShippingTier) -> datetime:
    # the shop shows the default policy's deadline rounded up to the full hour
    due = deadline(SlaInput("", to_datetime(created_ms), tier), DEFAULT_POLICY)
    return to_datetime(-(-to_ms(due) // HOUR_MS) * HOUR_MS)

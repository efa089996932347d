"""The simulated business: carriers, regions, shipping tiers, products, daily rhythm.

Plain data. The figures are chosen so that, with the default delays in
:mod:`producer.order_walk`, roughly one order in ten misses its promise and
carriers differ visibly in speed and reliability.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.events import ShippingTier

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Carrier:
    """A delivery company: ``speed`` scales transit time (lower is faster)."""

    code: str
    speed: float
    failed_delivery_rate: float
    loss_rate: float
    share: float


@dataclass(frozen=True, slots=True)
class Region:
    """A destination region: ``distance`` scales transit time."""

    name: str
    distance: float
    share: float


@dataclass(frozen=True, slots=True)
class Tier:
    """How the warehouse and carriers treat a shipping tier (medians, in ms).

    The promise itself is ``domain.sla.DEFAULT_POLICY``; ``transit_ms`` is the
    median carrier transit for a region of distance 1.0.
    """

    tier: ShippingTier
    pack_ms: int
    handover_ms: int
    transit_ms: int
    drop_ms: int
    share: float


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    unit_price: Decimal
    popularity: float


CARRIERS: tuple[Carrier, ...] = (
    Carrier("SWIFTPOST", speed=0.85, failed_delivery_rate=0.04, loss_rate=0.002, share=0.30),
    Carrier("PARCELWAY", speed=1.00, failed_delivery_rate=0.06, loss_rate=0.004, share=0.30),
    Carrier("BLUELINE", speed=0.95, failed_delivery_rate=0.03, loss_rate=0.001, share=0.20),
    Carrier("TERRAFREIGHT", speed=1.25, failed_delivery_rate=0.09, loss_rate=0.008, share=0.12),
    Carrier("CITYHOP", speed=0.75, failed_delivery_rate=0.05, loss_rate=0.003, share=0.08),
)

REGIONS: tuple[Region, ...] = (
    Region("Metro North", distance=0.7, share=0.24),
    Region("Metro South", distance=0.8, share=0.22),
    Region("Midlands", distance=1.0, share=0.20),
    Region("Coastal West", distance=1.1, share=0.14),
    Region("Eastern Plains", distance=1.2, share=0.10),
    Region("Highlands", distance=1.45, share=0.06),
    Region("Islands", distance=1.7, share=0.04),
)

TIERS: dict[ShippingTier, Tier] = {
    t.tier: t
    for t in (
        Tier(
            ShippingTier.ECONOMY,
            pack_ms=18 * HOUR_MS,
            handover_ms=8 * HOUR_MS,
            transit_ms=72 * HOUR_MS,
            drop_ms=5 * HOUR_MS,
            share=0.25,
        ),
        Tier(
            ShippingTier.STANDARD,
            pack_ms=10 * HOUR_MS,
            handover_ms=5 * HOUR_MS,
            transit_ms=56 * HOUR_MS,
            drop_ms=4 * HOUR_MS,
            share=0.45,
        ),
        Tier(
            ShippingTier.EXPRESS,
            pack_ms=3 * HOUR_MS,
            handover_ms=2 * HOUR_MS,
            transit_ms=14 * HOUR_MS,
            drop_ms=3 * HOUR_MS,
            share=0.22,
        ),
        Tier(
            ShippingTier.SAME_DAY,
            pack_ms=HOUR_MS,
            handover_ms=HOUR_MS // 2,
            transit_ms=3 * HOUR_MS,
            drop_ms=HOUR_MS,
            share=0.08,
        ),
    )
}

_P = Decimal
PRODUCTS: tuple[Product, ...] = (
    Product("SKU-HEADPH-01", "Wireless Headphones", _P("89.99"), 6),
    Product("SKU-KEYBRD-02", "Mechanical Keyboard", _P("129.00"), 3),
    Product("SKU-MOUSE-03", "Ergonomic Mouse", _P("39.90"), 7),
    Product("SKU-MONTR-04", "27in Monitor", _P("249.00"), 2),
    Product("SKU-CABLE-05", "USB-C Cable 2m", _P("9.99"), 12),
    Product("SKU-CHARG-06", "65W Charger", _P("34.50"), 8),
    Product("SKU-SPEAK-07", "Bluetooth Speaker", _P("59.00"), 4),
    Product("SKU-LAMP-08", "Desk Lamp", _P("27.80"), 5),
    Product("SKU-MUG-09", "Ceramic Mug", _P("12.00"), 9),
    Product("SKU-BOTTL-10", "Steel Water Bottle", _P("19.95"), 8),
    Product("SKU-BACKP-11", "Laptop Backpack", _P("74.00"), 4),
    Product("SKU-NOTEB-12", "Dotted Notebook", _P("8.49"), 10),
    Product("SKU-PEN-13", "Gel Pens (10 pack)", _P("6.99"), 10),
    Product("SKU-CHAIR-14", "Office Chair", _P("319.00"), 1),
    Product("SKU-SHOES-15", "Running Shoes", _P("99.95"), 5),
    Product("SKU-TSHRT-16", "Cotton T-Shirt", _P("15.00"), 9),
    Product("SKU-JACKT-17", "Rain Jacket", _P("119.00"), 3),
    Product("SKU-YOGA-18", "Yoga Mat", _P("29.99"), 5),
    Product("SKU-KETTL-19", "Electric Kettle", _P("44.00"), 4),
    Product("SKU-COFFE-20", "Coffee Beans 1kg", _P("24.90"), 8),
    Product("SKU-BOOK-21", "Paperback Novel", _P("13.50"), 7),
    Product("SKU-PLANT-22", "Potted Succulent", _P("11.25"), 5),
    Product("SKU-TOYS-23", "Building Blocks Set", _P("54.99"), 4),
    Product("SKU-WATCH-24", "Fitness Watch", _P("179.00"), 2),
)

CURRENCY = "EUR"

#: Relative order arrival by hour of day (UTC): quiet nights, lunch and evening peaks.
HOURLY_ARRIVAL: tuple[float, ...] = (
    0.30, 0.18, 0.12, 0.10, 0.10, 0.15,
    0.30, 0.60, 0.90, 1.10, 1.25, 1.40,
    1.60, 1.50, 1.30, 1.20, 1.20, 1.30,
    1.50, 1.75, 1.85, 1.60, 1.10, 0.60,
)  # fmt: skip

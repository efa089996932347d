"""What to simulate: the size, seed, start and rates of a simulated stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)


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

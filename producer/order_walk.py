"""How a simulated order moves: the lifecycle's transition table, walked with odds and delays.

From each status the walk takes one of the moves ``domain.lifecycle.TRANSITIONS``
allows, and stops where the table has none. Which move is a matter of the
business: a few orders are cancelled in the warehouse and a few parcels lost
(each order draws where, if at all, up front), a delivery attempt fails with
its carrier's odds (rising with each attempt) and is tried again or returned;
otherwise the order takes the one usual step forward. Each step takes a
log-normal delay whose median depends on the step, the tier, the carrier and
the region.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from domain.events import ShippingTier
from domain.lifecycle import INITIAL_STATUS, TRANSITIONS, OrderStatus
from producer import catalog
from producer.catalog import DAY_MS, HOUR_MS, Carrier, Region, Tier
from producer.clock import MINUTE_MS
from producer.draws import lognormal_ms
from producer.simulation_config import SimulationConfig

#: Moves that happen to some orders only, by a draw; every other status has one usual move.
_EXCEPTIONS = frozenset({OrderStatus.CANCELLED, OrderStatus.LOST})
#: Statuses an order may be cancelled from (before the carrier has it), in lifecycle order.
CANCELLABLE = tuple(s for s, moves in TRANSITIONS.items() if OrderStatus.CANCELLED in moves)
#: Statuses a parcel may be lost from, in lifecycle order.
LOSABLE = tuple(s for s, moves in TRANSITIONS.items() if OrderStatus.LOST in moves)
#: The usual move from each status that has exactly one besides cancellation and loss.
FORWARD: dict[OrderStatus, OrderStatus] = {
    status: next(iter(moves - _EXCEPTIONS))
    for status, moves in TRANSITIONS.items()
    if len(moves - _EXCEPTIONS) == 1
}


class IllegalStepError(RuntimeError):
    """The walk chose a move the transition table does not allow (a bug in this module)."""


class OrderWalk:
    """The steps of simulated orders, drawn from the simulation's ``rng``."""

    def __init__(self, rng: random.Random, config: SimulationConfig) -> None:
        self.rng = rng
        self.uniform = rng.random
        self.config = config
        self._forward_by_tier = {t.tier: _forward_delays(t) for t in catalog.TIERS.values()}

    def steps(
        self, t: int, carrier: Carrier, region: Region, tier: Tier
    ) -> Iterator[tuple[int, OrderStatus]]:
        """The (time in ms, status) steps of an order created at ``t`` and sold as
        ``tier`` (one of ``catalog.TIERS``); times strictly increase."""
        rng, uniform, config = self.rng, self.uniform, self.config
        cancel_at = rng.choice(CANCELLABLE) if uniform() < config.cancel_rate else None
        lost_at = rng.choice(LOSABLE) if uniform() < carrier.loss_rate else None
        forward_ms = self._forward_by_tier[tier.tier]
        attempt = 0
        status = INITIAL_STATUS
        while moves := TRANSITIONS[status]:
            if status is cancel_at:
                step, median, sigma = OrderStatus.CANCELLED, 2 * HOUR_MS, 0.7
            elif status is lost_at:
                # lost in the network: found missing days later
                lost_after = 3 * DAY_MS if status is OrderStatus.OUT_FOR_DELIVERY else 5 * DAY_MS
                step, median, sigma = OrderStatus.LOST, lost_after, 0.3
            elif status is OrderStatus.OUT_FOR_DELIVERY:
                attempt += 1
                if uniform() >= carrier.failed_delivery_rate * attempt:
                    step = OrderStatus.DELIVERED
                else:
                    step = OrderStatus.DELIVERY_FAILED
                median, sigma = tier.drop_ms, 0.5
            elif status is OrderStatus.DELIVERY_FAILED:
                if attempt == config.max_attempts or uniform() >= config.retry_rate:
                    step, median, sigma = OrderStatus.RETURNED_TO_SENDER, 3 * DAY_MS, 0.4
                else:
                    step, median, sigma = OrderStatus.OUT_FOR_DELIVERY, 20 * HOUR_MS, 0.25
            elif status is OrderStatus.IN_TRANSIT:
                step, median, sigma = FORWARD[status], self._transit_ms(carrier, region, tier), 0.3
            else:
                step = FORWARD[status]
                median, sigma = forward_ms[step]
            if step not in moves:
                raise IllegalStepError(f"{status} -> {step} is not in the transition table")
            t += lognormal_ms(uniform, median, sigma)
            yield t, step
            status = step

    def _transit_ms(self, carrier: Carrier, region: Region, tier: Tier) -> int:
        transit = tier.transit_ms * carrier.speed * region.distance
        if self.uniform() < self.config.disruption_rate:
            transit *= self.rng.uniform(2.0, 3.5)
        return int(transit)


def _forward_delays(tier: Tier) -> dict[OrderStatus, tuple[int, float]]:
    """(median ms, sigma) of each usual warehouse and hub step, by the status it reaches."""
    same_day = tier.tier is ShippingTier.SAME_DAY
    return {
        OrderStatus.APPROVED: (4 * MINUTE_MS if same_day else 12 * MINUTE_MS, 0.8),
        OrderStatus.PROCESSING: (10 * MINUTE_MS if same_day else 25 * MINUTE_MS, 0.8),
        OrderStatus.PACKED: (tier.pack_ms, 0.5),
        OrderStatus.SHIPPED: (tier.handover_ms, 0.5),
        OrderStatus.IN_TRANSIT: (HOUR_MS // 2 if same_day else 90 * MINUTE_MS, 0.5),
    }

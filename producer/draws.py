"""Seeded draws the simulation makes many times a second: weighted picks and delays.

Each takes the simulation's own ``random.Random`` (or its ``random`` method), so
the same seed gives the same draws.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect
from collections.abc import Callable, Iterable

_log, _exp = math.log, math.exp
_NV_MAGICCONST = 4 * math.exp(-0.5) / math.sqrt(2.0)  # as in the random module


def cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    """Running totals of ``weights``, for :func:`pick`."""
    return tuple(itertools.accumulate(weights))


def pick(rng: random.Random, cumulative_weights: tuple[float, ...]) -> int:
    """An index drawn with the probabilities of the weights behind ``cumulative_weights``."""
    return bisect(cumulative_weights, rng.random() * cumulative_weights[-1])


def lognormal_ms(uniform: Callable[[], float], median_ms: int, sigma: float) -> int:
    """A log-normal delay around ``median_ms``, at least one second.

    Most steps take about the median, a long tail takes much longer; the one-second
    floor keeps an order's event times strictly increasing. This is
    ``random.lognormvariate(log(median_ms), sigma)`` (Kinderman-Monahan normal, then
    exp) written out -- same draws from ``uniform``, same floats -- without two
    Python-level calls per step.
    """
    while True:
        u1 = uniform()
        u2 = 1.0 - uniform()
        z = _NV_MAGICCONST * (u1 - 0.5) / u2
        if z * z / 4.0 <= -_log(u2):
            break
    return max(1000, int(_exp(_log(median_ms) + z * sigma)))

"""The simulated customer base: ids and Faker names."""

from __future__ import annotations

import functools

from faker import Faker


@functools.lru_cache(maxsize=8)
def customer_base(locale: str, seed: int, count: int) -> tuple[tuple[str, str], ...]:
    """``count`` (customer id, name) pairs, the same for the same arguments.

    A Faker name costs about 90 us, so the base is made once per process and kept.
    """
    faker = Faker(locale)
    faker.seed_instance(seed)
    # the locale's generator itself: the same draws without the proxy's per-call lookup
    name = faker.factories[0].name
    return tuple((f"C{seed}-{k:06d}", name()[:120]) for k in range(count))

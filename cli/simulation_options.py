"""The flags every simulating command shares, and the configurations they make.

``generate`` and ``produce`` take the same simulation (``--start``, ``--seed``,
``--orders-per-hour``) and the same fault rates; a bad value is one error line.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from cli.errors import fail
from producer.faults import RATE_NAMES, RATE_SUBJECTS, FaultConfig
from producer.publish import planned_events
from producer.simulation import SimulationConfig

F = TypeVar("F", bound=Callable[..., Any])
#: Orders simulated up front to estimate a run's events (its progress total).
PROGRESS_SAMPLE_ORDERS = 200
#: Random seeds are drawn below this (short ids, and ``random.Random`` takes any int).
_RANDOM_SEEDS = 2**31


def fault_options(func: F) -> F:
    """The fault-injection knobs, all off by default."""
    for name in reversed(RATE_NAMES):
        flag = "--" + name.replace("_", "-")
        func = click.option(
            flag,
            name,
            type=click.FloatRange(0.0, 1.0),
            default=0.0,
            show_default=True,
            help=f"Share of {RATE_SUBJECTS[name]} given this fault.",
        )(func)
    return func


def simulation_options(start_default: str) -> Callable[[F], F]:
    """``--start``, ``--orders-per-hour``, ``--seed``; ``start_default`` describes no --start."""

    def decorate(func: F) -> F:
        func = click.option(
            "--start",
            default=None,
            metavar="ISO-8601|now",
            show_default=start_default,
            help="Event time of the first order, with offset.",
        )(func)
        func = click.option(
            "--orders-per-hour",
            type=click.FloatRange(0.001, 10_000_000),
            default=60.0,
            show_default=True,
            help="Mean order arrival rate (it varies over the day).",
        )(func)
        return click.option(
            "--seed",
            type=click.IntRange(0),
            default=None,
            show_default="a new one per run, so runs never share order ids",
            help="Random seed: the same seed gives the same orders, ids included.",
        )(func)

    return decorate


def now() -> datetime:
    """Now in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_start(value: str | None, default: datetime | None) -> datetime:
    """``--start``; ``default=None`` means now (a live simulation lives in the present)."""
    if value is None:
        return now() if default is None else default
    if value.strip().lower() == "now":
        return now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--start: {value!r} is not an ISO-8601 date-time")
    if moment.tzinfo is None:
        fail(f"--start: {value!r} needs a UTC offset, e.g. {value}+00:00")
    return moment


def draw_seed(seed: int | None) -> int:
    """The given seed, or a fresh random one (:func:`echo_seed` says which).

    Order ids carry the seed (``ORD-<seed>-<n>``): with a fresh seed per run, a second
    run into the same database adds new orders instead of merging into the first run's.
    """
    return secrets.randbelow(_RANDOM_SEEDS) if seed is None else seed


def echo_seed(given: int | None, config: SimulationConfig) -> None:
    """After a run with a drawn seed: which seed repeats it."""
    if given is None:
        seed = config.seed
        click.echo(f"seed {seed} (order ids ORD-{seed}-...; --seed {seed} repeats this run)")


def simulation_config(
    orders: int | None,
    seed: int | None,
    start: str | None,
    per_hour: float,
    default_start: datetime | None,
) -> SimulationConfig:
    try:
        return SimulationConfig(
            orders=orders,
            seed=draw_seed(seed),
            start=parse_start(start, default_start),
            orders_per_hour=per_hour,
        )
    except ValueError as exc:
        fail(str(exc))


def fault_rates(rates: dict[str, float]) -> FaultConfig:
    try:
        return FaultConfig.from_rates(rates)
    except ValueError as exc:
        fail(str(exc))


def estimated_events(config: SimulationConfig, faults: FaultConfig) -> int | None:
    """About how many events ``config`` makes (a progress total), from a small sample of
    the same simulation; ``None`` for an endless one."""
    if config.orders is None:
        return None
    sample = replace(config, orders=min(config.orders, PROGRESS_SAMPLE_ORDERS))
    events = sum(1 for _ in planned_events(sample, faults))
    return round(events * config.orders / max(sample.orders or 1, 1))

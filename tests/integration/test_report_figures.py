"""The report's figures equal an independent computation by ``domain.sla``, on both backends.

Orders are made here (``make_orders``) and written as ``sales`` rows; the database side
goes through the real migrations (``infra.db.migrate.upgrade``) and ``build_report``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from domain.events import ShippingTier
from domain.lifecycle import RANK, OrderStatus
from domain.sla import DEFAULT_POLICY, OrderSla, SlaInput, evaluate, evaluate_all, percentile
from infra.db.backend import backend_for
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.models import OrderHistory, Sale
from infra.reporting.aggregate_sql import DIMENSIONS, METRIC_COLUMNS, PERCENTILES, STATES
from infra.reporting.order_sla_sql import order_sla_select
from infra.reporting.queries import build_report, epoch_us

pytestmark = pytest.mark.integration

AS_OF = datetime(2024, 3, 11, 12, 0, 0, 250_000, tzinfo=UTC)
CARRIERS = ("dhl", "ups", "fedex", "gls")
REGIONS = ("EU-West", "EU-East", "US", "APAC", "LATAM")


def _jitter(rng: random.Random, hours: float) -> timedelta:
    return timedelta(microseconds=rng.randrange(int(hours * 3_600_000_000)) + 1)


def make_orders(seed: int, count: int, as_of: datetime = AS_OF) -> list[tuple[SlaInput, str, str]]:
    """``(order, carrier, region)`` with every kind of ending, some past ``as_of``."""
    rng = random.Random(seed)
    orders = []
    tiers = list(ShippingTier)
    for n in range(count):
        created = as_of - timedelta(days=10) + _jitter(rng, 10.5 * 24)
        tier = tiers[n % len(tiers)]
        promise = created + _jitter(rng, 24 * 6) if rng.random() < 0.15 else None
        m: dict[str, datetime] = {}
        roll = rng.random()
        at = created
        if roll < 0.06:
            m["cancelled_at"] = at + _jitter(rng, 20)
        elif roll > 0.12:  # shipped at some point
            at = m["shipped_at"] = at + _jitter(rng, 60)
            if rng.random() < 0.85:
                at = m["out_for_delivery_at"] = at + _jitter(rng, 100)
                if rng.random() < 0.15:
                    at = m["first_failed_at"] = at + _jitter(rng, 10)
                end = rng.random()
                if end < 0.05:
                    m["returned_at"] = at + _jitter(rng, 30)
                elif end < 0.09:
                    m["lost_at"] = at + _jitter(rng, 30)
                elif end < 0.95:
                    m["delivered_at"] = at + _jitter(rng, 20)
        if n % 97 == 5 and "delivered_at" in m:  # exactly on the deadline
            m["delivered_at"] = promise or created + timedelta(days=5)
            tier = ShippingTier.STANDARD
        order = SlaInput(
            order_id=f"o-{seed}-{n:05d}",
            created_at=created,
            shipping_tier=tier,
            promised_delivery_at=promise,
            **m,
        )
        orders.append((order, CARRIERS[rng.randrange(4)], REGIONS[rng.randrange(5)]))
    return orders


_MILESTONE_STATUS = {
    "shipped_at": "shipped",
    "out_for_delivery_at": "out_for_delivery",
    "first_failed_at": "delivery_failed",
    "delivered_at": "delivered",
    "returned_at": "returned_to_sender",
    "lost_at": "lost",
    "cancelled_at": "cancelled",
}


def sale_row(order: SlaInput, carrier: str, region: str) -> dict[str, object]:
    """A ``sales`` row for ``order`` (status = its last milestone)."""
    milestones = _MILESTONE_STATUS
    reached = [(getattr(order, k), s) for k, s in milestones.items() if getattr(order, k)]
    status_at, status = max(reached, default=(order.created_at, "pending"))
    row: dict[str, object] = {k: getattr(order, k) for k in milestones}
    row.update(
        order_id=order.order_id,
        shipping_tier=order.shipping_tier.value,
        carrier=carrier,
        destination_region=region,
        created_at=order.created_at,
        promised_delivery_at=order.promised_delivery_at,
        awaiting_creation=False,
        status=status,
        status_rank=0,
        status_at=status_at,
        status_event_id="0" * 36,
        failed_attempts=1 if order.first_failed_at else 0,
        event_count=1 + len(reached),
        illegal_transitions=0,
        updated_at=status_at,
    )
    return row


def load(engine: Engine, orders: Sequence[tuple[SlaInput, str, str]]) -> None:
    """Write ``orders`` plus one order whose creation has not arrived (must be left out)."""
    orphan = {
        "order_id": "orphan-1",
        "awaiting_creation": True,
        "status": "shipped",
        "status_rank": 40,
        "status_at": AS_OF - timedelta(days=1),
        "status_event_id": "1" * 36,
        "shipped_at": AS_OF - timedelta(days=1),
        "failed_attempts": 0,
        "event_count": 1,
        "illegal_transitions": 0,
        "updated_at": AS_OF,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(Sale), [sale_row(*o) for o in orders])
        conn.execute(sa.insert(Sale), [orphan])
        conn.execute(sa.insert(OrderHistory), [h for o, _, _ in orders for h in history_rows(o)])


def history_rows(order: SlaInput) -> list[dict[str, object]]:
    """The ``order_history`` rows behind :func:`sale_row` (what ``--as-of`` looks up)."""
    steps = [(order.created_at, "pending", 0)] + [
        (at, status, RANK[OrderStatus(status)])
        for key, status in _MILESTONE_STATUS.items()
        if (at := getattr(order, key)) is not None
    ]
    return [
        {
            "event_id": f"{order.order_id}-{n}",
            "order_id": order.order_id,
            "event_type": "order-created" if n == 0 else "status-changed",
            "status": status,
            "status_rank": status_rank,
            "occurred_at": at,
            "ingested_at": at,
            "legal": True,
            "payload": "{}",
        }
        for n, (at, status, status_rank) in enumerate(steps)
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head (SLA objects included)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    engine = make_engine(request.getfixturevalue(fixture))
    upgrade(engine)
    yield engine
    engine.dispose()


def expected_metrics(results: Sequence[OrderSla]) -> dict[str, float | int | None]:
    """The aggregate figures computed in Python from per-order results."""
    counts = {s: sum(1 for r in results if r.state.value == s) for s in STATES}
    decided = [r.on_time for r in results if r.on_time is not None]
    metrics: dict[str, float | int | None] = {"orders": len(results), **counts}
    metrics["decided"] = len(decided)
    metrics["on_time_rate"] = sum(decided) / len(decided) if decided else None
    getters: dict[str, Callable[[OrderSla], timedelta | None]] = {
        "lead_time": lambda r: r.lead_time,
        "time_to_ship": lambda r: r.time_to_ship,
        "time_in_transit": lambda r: r.time_in_transit,
    }
    for name, get in getters.items():
        values = [v / timedelta(microseconds=1) / 1e6 for r in results if (v := get(r)) is not None]
        for label, fraction in PERCENTILES:
            metrics[f"{name}_{label}_s"] = percentile(values, fraction)
    return metrics


def assert_metrics_equal(actual: Mapping[str, object], expected: Mapping[str, object]) -> None:
    assert list(actual) == list(METRIC_COLUMNS)
    for key in METRIC_COLUMNS:
        a, e = actual[key], expected[key]
        if isinstance(e, float):
            assert isinstance(a, float) and math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-6), key
        else:
            assert a == e, key


def test_report_matches_domain_computation(migrated_engine: Engine) -> None:
    orders = make_orders(seed=11, count=600)
    load(migrated_engine, orders)
    by = [("carrier",), ("region",), ("tier",), ("day",), ("carrier", "tier")]
    report = build_report(migrated_engine, AS_OF, by, at_risk_limit=1000, histogram=True)

    results = {
        r.order_id: r for r in evaluate_all([o for o, _, _ in orders], DEFAULT_POLICY, AS_OF)
    }
    attrs = {o.order_id: (c, reg, o) for o, c, reg in orders}
    assert_metrics_equal(report.totals, expected_metrics(list(results.values())))
    assert report.totals["met"] and report.totals["lost"] and report.totals["at_risk"]

    def key_of(order_id: str, dims: tuple[str, ...]) -> tuple[str, ...]:
        carrier, region, o = attrs[order_id]
        values = {
            "carrier": carrier,
            "region": region,
            "tier": o.shipping_tier.value,
            "day": o.created_at.astimezone(UTC).date().isoformat(),
        }
        return tuple(values[d] for d in dims)

    for breakdown in report.breakdowns:
        groups: dict[tuple[str, ...], list[OrderSla]] = defaultdict(list)
        for r in results.values():
            groups[key_of(r.order_id, breakdown.by)].append(r)
        assert [tuple(row.key[d] for d in breakdown.by) for row in breakdown.rows] == sorted(groups)
        for row in breakdown.rows:
            key = tuple(row.key[d] for d in breakdown.by)
            assert_metrics_equal(row.metrics, expected_metrics(groups[key]))

    watch = {r.order_id for r in results.values() if r.state.value in ("at_risk", "breached")}
    assert {o.order_id for o in report.at_risk_orders} == watch
    assert report.at_risk_total == len(watch)
    for listed in report.at_risk_orders:
        assert listed.deadline_at == results[listed.order_id].deadline_at
    delivered = sum(1 for r in results.values() if r.lead_time is not None)
    assert sum(b.orders for b in report.lead_time_histogram) == delivered


def test_per_order_select_matches_evaluate(migrated_engine: Engine) -> None:
    orders = make_orders(seed=5, count=300)
    load(migrated_engine, orders)
    dialect = backend_for(migrated_engine)
    query = sa.text(order_sla_select(dialect, "CAST(:as_of_us AS BIGINT)"))
    with migrated_engine.connect() as conn:
        rows = {r.order_id: r for r in conn.execute(query, {"as_of_us": epoch_us(AS_OF)})}
    by_id = {o.order_id: o for o, _, _ in orders}
    assert "orphan-1" not in rows
    assert set(rows) == {i for i, o in by_id.items() if o.created_at <= AS_OF}
    for order_id, row in rows.items():
        expected = evaluate(by_id[order_id], DEFAULT_POLICY, AS_OF)
        assert expected is not None
        assert row.sla_state == expected.state.value, order_id
        assert row.at_risk_reason == (expected.at_risk_reason and expected.at_risk_reason.value)
        assert row.deadline_source == ("explicit" if expected.deadline_explicit else "policy")
        for column, value in (
            ("time_to_ship_s", expected.time_to_ship),
            ("time_in_transit_s", expected.time_in_transit),
            ("lead_time_s", expected.lead_time),
            ("lateness_s", expected.lateness),
        ):
            got = getattr(row, column)
            if value is None:
                assert got is None, (order_id, column)
            else:
                assert got == pytest.approx(value.total_seconds(), abs=1e-6), (order_id, column)


def test_views_are_readable_and_daily_adds_up(migrated_engine: Engine) -> None:
    orders = make_orders(seed=3, count=120)
    load(migrated_engine, orders)
    with migrated_engine.connect() as conn:
        per_order = conn.execute(sa.text("SELECT COUNT(*) FROM order_sla")).scalar_one()
        daily = conn.execute(sa.text("SELECT * FROM sla_daily")).mappings().all()
        policy = conn.execute(sa.text("SELECT COUNT(*) FROM sla_policy")).scalar_one()
    assert per_order == 120  # as of now every order is created; the orphan is left out
    assert sum(row["orders"] for row in daily) == 120
    assert set(daily[0]) == {"day", *METRIC_COLUMNS}
    assert policy == len(DEFAULT_POLICY)
    assert set(DIMENSIONS) == {"day", "carrier", "region", "tier"}


def test_same_dimensions_in_either_order_and_no_breakdown(migrated_engine: Engine) -> None:
    orders = make_orders(seed=7, count=200)
    load(migrated_engine, orders)
    by = [("tier", "carrier"), ("carrier", "tier"), ("region",)]
    report = build_report(migrated_engine, AS_OF, by, at_risk_limit=5, histogram=True)
    plain = build_report(migrated_engine, AS_OF, at_risk_limit=5)
    results = evaluate_all([o for o, _, _ in orders], DEFAULT_POLICY, AS_OF)
    assert_metrics_equal(report.totals, expected_metrics(results))
    assert report.totals == plain.totals
    assert report.at_risk_orders == plain.at_risk_orders and len(plain.at_risk_orders) == 5
    assert [b.by for b in report.breakdowns] == by
    days = [r.lead_time // timedelta(days=1) for r in results if r.lead_time is not None]
    expected_buckets = [sum(1 for d in days if min(max(d, 0), 10) == k) for k in range(11)]
    assert [b.orders for b in report.lead_time_histogram] == expected_buckets
    facts = {o.order_id: (o.shipping_tier.value, c, r) for o, c, r in orders}
    for breakdown in report.breakdowns:
        groups: dict[tuple[str, ...], list[OrderSla]] = defaultdict(list)
        for r in results:
            tier, carrier, region = facts[r.order_id]
            values = {"tier": tier, "carrier": carrier, "region": region}
            groups[tuple(values[d] for d in breakdown.by)].append(r)
        keys = [tuple(row.key[d] for d in breakdown.by) for row in breakdown.rows]
        assert keys == sorted(groups)
        for row, key in zip(breakdown.rows, keys, strict=True):
            assert_metrics_equal(row.metrics, expected_metrics(groups[key]))

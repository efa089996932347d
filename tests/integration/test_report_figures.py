"""The report's figures equal an independent computation by ``domain.sla``, on both backends.

Orders are made here (``make_orders``) and written as ``sales`` rows; the database side
goes through the real migrations (``infra.db.migrate.upgrade``) and ``build_report``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from domain.sla import DEFAULT_POLICY, OrderSla, evaluate, evaluate_all, percentile
from infra.db.backend import backend_for
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.reporting.aggregate_sql import DIMENSIONS, METRIC_COLUMNS, PERCENTILES, STATES
from infra.reporting.order_sla_sql import order_sla_select
from infra.reporting.queries import build_report, epoch_us
from tests.support.report_data import AS_OF, load, make_orders

pytestmark = pytest.mark.integration


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

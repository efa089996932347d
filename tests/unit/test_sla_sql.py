"""SQL deadline arithmetic (SQLite) equals ``domain.sla.deadline`` for all weekdays and policies."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from domain.events import ShippingTier
from domain.sla import DEFAULT_POLICY, SlaInput, TierPolicy, deadline
from infra.db.models import Base, Sale
from infra.db.sla_policy import policy_rows
from infra.db.sqlite import SqliteBackend
from infra.reporting import sla_views
from infra.reporting.order_sla_sql import order_sla_select, report_rows_select
from infra.reporting.queries import epoch_us

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=UTC)  # a Saturday


def test_migration_seeds_the_default_policy() -> None:
    migration = importlib.import_module("infra.db.migrations.versions.0002_sla_views")
    assert policy_rows(DEFAULT_POLICY) == migration.POLICY_ROWS
    assert (migration.revision, migration.down_revision) == ("0002", "0001")
    exact = importlib.import_module("infra.db.migrations.versions.0003_exact_sla_times")
    assert (exact.revision, exact.down_revision) == ("0003", "0002")
    integer = importlib.import_module("infra.db.migrations.versions.0006_sqlite_integer_times")
    assert (integer.revision, integer.down_revision) == ("0006", "0005")


@pytest.mark.parametrize("end_of_day", [False, True])
@pytest.mark.parametrize("business_days", [False, True])
def test_sql_deadlines_equal_python(tmp_path: Path, business_days: bool, end_of_day: bool) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sql.db'}")
    Base.metadata.create_all(engine)
    tiers = list(ShippingTier)
    policy = {
        tier: TierPolicy(promise_days=days, business_days=business_days, end_of_day=end_of_day)
        for tier, days in zip(tiers, (0, 1, 4, 12), strict=True)
    }
    orders = [
        SlaInput(
            order_id=f"o{n}",
            created_at=START + timedelta(hours=7 * n, microseconds=n),
            shipping_tier=tiers[n % 4],
        )
        for n in range(120)  # 35 days of creation times, every weekday and hour band
    ]
    stamp = START
    with engine.begin() as conn:
        sla_views.install(conn, policy_rows(policy))
        conn.execute(
            sa.insert(Sale),
            [
                {"order_id": o.order_id, "shipping_tier": o.shipping_tier.value,
                 "carrier": "c", "destination_region": "r", "created_at": o.created_at,
                 "awaiting_creation": False, "status": "pending", "status_rank": 0,
                 "status_at": o.created_at, "status_event_id": "0" * 36, "failed_attempts": 0,
                 "event_count": 1, "illegal_transitions": 0, "updated_at": stamp}
                for o in orders
            ],
        )  # fmt: skip
        as_of = {"as_of_us": epoch_us(START + timedelta(days=60))}
        query = sa.text(order_sla_select(SqliteBackend(), ":as_of_us"))
        rows = conn.execute(query, as_of)
        # SQLite stores a time as integer microseconds since 1970 UTC
        got = {r.order_id: EPOCH + timedelta(microseconds=r.deadline_at) for r in rows}
        narrow = sa.text(report_rows_select(SqliteBackend(), ":as_of_us", 86_400_000_000, 11))
        report_rows = {r.order_id: r.deadline_us for r in conn.execute(narrow, as_of)}
    assert got == {o.order_id: deadline(o, policy) for o in orders}
    assert report_rows == {o.order_id: epoch_us(deadline(o, policy)) for o in orders}
    engine.dispose()

"""The SLA SQL agrees with ``domain.sla`` to the microsecond, on SQLite and PostgreSQL.

Event times cover the whole accepted range, 1970-01-01 to 2200-01-01 UTC, with the
instants that once went wrong drawn often: fractions of .9995 and later (SQLite read
them a second late), times around midnight and at both ends of the range, and
deadlines, milestones and as-of instants one microsecond apart. The database goes
through the real migrations; each example writes ``sales`` rows and reads the
per-order SELECT and the report's rows at several as-of instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from domain.events import ShippingTier
from domain.sla import DEFAULT_POLICY, SlaInput, deadline, evaluate
from infra.db.backend import SqlBackend, backend_for
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.db.models import Sale, UtcDateTime
from infra.reporting.order_sla_sql import order_sla_select, report_rows_select
from tests.support.report_data import sale_row

pytestmark = pytest.mark.integration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY_US = 86_400_000_000
END_US = (datetime(2200, 1, 1, tzinfo=UTC) - EPOCH) // US  # first instant out of range
LAST_DAY = END_US // DAY_US - 1
MILESTONES = ("shipped_at", "out_for_delivery_at", "first_failed_at")
ENDINGS = ("delivered_at", "cancelled_at", "lost_at", "returned_at", None)


def at(micros: int) -> datetime:
    return EPOCH + micros * US


def micros_of(moment: datetime) -> int:
    return (moment - EPOCH) // US


def seconds(span: timedelta | None) -> float | None:
    # the SQL's CAST(us AS DOUBLE PRECISION) / 1e6: the same two IEEE operations in Python
    return None if span is None else float(span // US) / 1e6


#: Any instant of the accepted range, with the risky ones drawn often.
instants = st.one_of(
    st.integers(0, END_US - 1),
    st.builds(  # fractions that strftime('%s') rounded up to the next second
        lambda s, f: s * 1_000_000 + f,
        st.integers(0, END_US // 1_000_000 - 1),
        st.integers(999_500, 999_999),
    ),
    st.builds(  # around midnight
        lambda day, offset: day * DAY_US + offset,
        st.integers(1, LAST_DAY),
        st.integers(-2_000_000, 1_999_999),
    ),
    st.integers(0, 3 * DAY_US),  # the first days of 1970
    st.integers(END_US - 3 * DAY_US, END_US - 1),  # the last days of 2199
)


@st.composite
def orders(draw: st.DrawFn, n: int) -> SlaInput:
    """One order whose ending sits near its deadline (often within a microsecond)."""
    created = draw(instants)
    tier = draw(st.sampled_from(list(ShippingTier)))
    promise = None
    if draw(st.booleans()):
        promise = created + draw(st.integers(0, 10 * DAY_US))
        if draw(st.booleans()):  # an explicit promise at the last microsecond of a day
            promise = (promise // DAY_US + 1) * DAY_US - 1
        promise = min(promise, END_US - 1)  # a promise is an accepted time too
    times: dict[str, int] = {}
    base = SlaInput(f"o{n}", at(created), tier, at(promise) if promise is not None else None)
    due = micros_of(deadline(base, DEFAULT_POLICY))
    ending = draw(st.sampled_from(ENDINGS))
    if ending is not None:
        near = st.integers(-1, 1) | st.integers(-2_000_000, 2_000_000)
        times[ending] = max(created, due + draw(near)) if draw(st.booleans()) else draw(instants)
    for name in MILESTONES:
        if draw(st.booleans()):
            times[name] = created + draw(st.integers(0, 3 * DAY_US))
    in_range = {k: at(v) for k, v in times.items() if v < END_US}
    return SlaInput(base.order_id, base.created_at, tier, base.promised_delivery_at, **in_range)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[SlaInput], list[int]]:
    """A few orders and the as-of instants to judge them at (near their times, ± 1 µs)."""
    batch = [draw(orders(n)) for n in range(draw(st.integers(1, 6)))]
    moments = [END_US - 1]
    for order in batch:
        moments.append(micros_of(deadline(order, DEFAULT_POLICY)))
        moments += [micros_of(t) for t in event_times(order)]
    as_of = [END_US - 1]
    for _ in range(draw(st.integers(1, 3))):
        as_of.append(draw(st.sampled_from(moments)) + draw(st.integers(-1, 1)))
    as_of.append(draw(instants))
    return batch, [max(0, min(t, END_US - 1)) for t in as_of]


def event_times(order: SlaInput) -> list[datetime]:
    names = (*MILESTONES, "delivered_at", "cancelled_at", "lost_at", "returned_at")
    return [order.created_at, *(t for name in names if (t := getattr(order, name)))]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    engine = make_engine(request.getfixturevalue(fixture))
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_engine(empty_engine: Engine) -> Engine:
    upgrade(empty_engine)
    return empty_engine


def timestamp_of(value: object) -> datetime:
    """A deadline as the backend returns it: integer microseconds since 1970 UTC on
    SQLite, a datetime on PostgreSQL."""
    if isinstance(value, int):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def check(conn: sa.Connection, dialect: SqlBackend, batch: list[SlaInput], as_of_us: int) -> None:
    as_of = at(as_of_us)
    params = {"as_of_us": as_of_us}
    as_of_sql = "CAST(:as_of_us AS BIGINT)"
    wide = sa.text(order_sla_select(dialect, as_of_sql))
    narrow = sa.text(report_rows_select(dialect, as_of_sql, DAY_US, 11))
    rows = {r.order_id: r for r in conn.execute(wide, params)}
    report = {r.order_id: r for r in conn.execute(narrow, params)}
    expected = {o.order_id: e for o in batch if (e := evaluate(o, DEFAULT_POLICY, as_of))}
    assert set(rows) == set(report) == set(expected), as_of
    for order_id, want in expected.items():
        row, short = rows[order_id], report[order_id]
        where = (order_id, as_of)
        assert row.sla_state == short.sla_state == want.state.value, where
        reason = want.at_risk_reason and want.at_risk_reason.value
        assert row.at_risk_reason == short.at_risk_reason == reason, where
        assert timestamp_of(row.deadline_at) == want.deadline_at, where
        assert short.deadline_us == micros_of(want.deadline_at), where
        assert row.lateness_s == seconds(want.lateness), where
        for column, span in (
            ("lead_time_s", want.lead_time),
            ("time_to_ship_s", want.time_to_ship),
            ("time_in_transit_s", want.time_in_transit),
        ):
            assert getattr(row, column) == getattr(short, column) == seconds(span), (column, where)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_sql_agrees_with_domain_for_every_microsecond(
    migrated_engine: Engine, case: tuple[list[SlaInput], list[int]]
) -> None:
    batch, as_of_instants = case
    dialect = backend_for(migrated_engine)
    with migrated_engine.begin() as conn:
        conn.execute(sa.delete(Sale))
        conn.execute(sa.insert(Sale), [sale_row(o, "dhl", "EU-West") for o in batch])
    with migrated_engine.connect() as conn:
        for as_of_us in as_of_instants:
            check(conn, dialect, batch, as_of_us)


def test_a_delivery_just_after_a_last_microsecond_promise_is_missed_in_the_view(
    empty_engine: Engine,
) -> None:
    """The ``order_sla`` view of a database first migrated with the inexact SQL is corrected."""
    # A database at 0002 whose views still hold earlier SQL: 0003 must replace them.
    migrated_engine = empty_engine
    upgrade(migrated_engine, "0002")
    with migrated_engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW sla_daily"))
        conn.execute(sa.text("DROP VIEW order_sla"))
        conn.execute(sa.text("CREATE VIEW order_sla AS SELECT 'stale' AS sla_state"))
        conn.execute(sa.text("CREATE VIEW sla_daily AS SELECT 'stale' AS day"))
    upgrade(migrated_engine)
    created = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    promise = datetime(2024, 3, 4, 23, 59, 59, 999_999, tzinfo=UTC)
    orders_ = [
        SlaInput("late", created, ShippingTier.STANDARD, promise,
                 delivered_at=promise + timedelta(microseconds=500_001)),
        SlaInput("on-time", created, ShippingTier.STANDARD, promise, delivered_at=promise),
        SlaInput("same-day-late", created, ShippingTier.SAME_DAY,
                 delivered_at=datetime(2024, 3, 2, 0, 0, 0, 500_000, tzinfo=UTC)),
    ]  # fmt: skip
    with migrated_engine.begin() as conn:
        conn.execute(sa.insert(Sale), [sale_row(o, "dhl", "EU-West") for o in orders_])
    with migrated_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT order_id, sla_state, lead_time_s FROM order_sla"))
        got = {r.order_id: (r.sla_state, r.lead_time_s) for r in rows}
    now = datetime.now(UTC)
    assert got == {
        o.order_id: (e.state.value, seconds(e.lead_time))
        for o in orders_
        if (e := evaluate(o, DEFAULT_POLICY, now))
    }
    assert got["late"][0] == "missed" and got["same-day-late"][0] == "missed"


instant_table = sa.Table(
    "exact_instants", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime),
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(micros=st.lists(instants, min_size=400, max_size=400))
def test_every_stored_instant_reads_back_as_its_microsecond(
    migrated_engine: Engine, micros: list[int]
) -> None:
    """``SqlBackend.epoch_us`` and ``.timestamp`` are exact inverses over many instants."""
    dialect = backend_for(migrated_engine)
    query = sa.text(
        f"SELECT n, {dialect.epoch_us('at')} AS us, {dialect.timestamp(dialect.epoch_us('at'))}"
        " AS back FROM exact_instants ORDER BY n"
    )
    with migrated_engine.begin() as conn:
        instant_table.drop(conn, checkfirst=True)
        instant_table.create(conn)
        values = [{"n": n, "at": at(m)} for n, m in enumerate(micros)]
        conn.execute(sa.insert(instant_table), values)
        rows = conn.execute(query).all()
    assert [r.us for r in rows] == micros
    assert [timestamp_of(r.back) for r in rows] == [at(m) for m in micros]

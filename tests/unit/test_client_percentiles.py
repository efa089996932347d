"""The report's percentiles computed outside the database (SQLite) against the
domain's definition, and the aggregate rows against a plain computation."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from domain.sla import percentile
from infra.reporting.aggregate_sql import DURATIONS, PERCENTILES
from infra.reporting.client_percentiles import aggregate_rows, percentile_cont

numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
)


@given(st.lists(numbers, max_size=60), st.sampled_from([f for _, f in PERCENTILES] + [0.0, 1.0]))
def test_equals_the_domain_percentile_exactly(values: list[float], fraction: float) -> None:
    assert percentile_cont(sorted(values), fraction) == percentile(values, fraction)


def test_aggregate_rows_group_count_and_rank_per_key() -> None:
    driver = sqlite3.connect(":memory:")
    columns = ", ".join(f"{m}_s REAL" for m in DURATIONS)
    driver.execute(f"CREATE TABLE t (carrier TEXT, sla_state TEXT, on_time INTEGER, {columns})")
    rows = [
        ("dhl", "met", 1, 10.0, 1.0, None),
        ("dhl", "missed", 0, 30.0, None, None),
        ("dhl", "met", 1, 20.0, 3.0, None),
        ("ups", "cancelled", None, None, None, None),
        (None, "on_track", None, 5.0, 2.0, 7.0),
    ]
    driver.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
    got = aggregate_rows(driver, ("carrier",), "SELECT * FROM t", {})
    assert [row["carrier"] for row in got] == [None, "dhl", "ups"]  # GROUP BY order
    by = {row["carrier"]: row for row in got}
    assert by["dhl"]["orders"] == 3 and by["dhl"]["met"] == 2 and by["dhl"]["decided"] == 3
    for label, fraction in PERCENTILES:
        assert by["dhl"][f"lead_time_{label}_s"] == percentile([10.0, 30.0, 20.0], fraction)
        assert by["dhl"][f"time_to_ship_{label}_s"] == percentile([1.0, 3.0], fraction)
        assert by["dhl"][f"time_in_transit_{label}_s"] is None
        assert by["ups"][f"lead_time_{label}_s"] is None
        assert by[None][f"time_in_transit_{label}_s"] == 7.0
    (totals,) = aggregate_rows(driver, (), "SELECT * FROM t", {})
    assert totals["orders"] == 5
    assert totals["lead_time_p50_s"] == percentile([10.0, 30.0, 20.0, 5.0], 0.5)

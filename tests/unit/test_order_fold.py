"""The fold the apply path relies on: any order of any batches gives the same summary."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from domain.lifecycle import OrderStatus as S
from domain.lifecycle import is_legal
from domain.order import MILESTONE_FIELDS, fold, merge
from infra.db.judge_sql import LEGAL_MOVES
from tests.support.builders import changed, created

STATUSES = [s for s in S if s is not S.PENDING]


@given(
    statuses=st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(0, 3)), max_size=8),
    with_creation=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_fold_of_batches_in_any_order_equals_fold_of_all(
    statuses: list[tuple[S, int]], with_creation: bool, seed: int
) -> None:
    events = [changed(status, hours=h) for status, h in statuses]
    if with_creation:
        events.append(created(hours=1))
    if not events:
        return
    whole = fold(events)["ORD-1"]
    rng = random.Random(seed)
    rng.shuffle(events)
    cut = rng.randint(1, len(events))
    parts = [fold(part)["ORD-1"] for part in (events[:cut], events[cut:]) if part]
    combined = parts[0] if len(parts) == 1 else merge(parts[1], parts[0])
    assert combined == whole


def test_the_sql_legal_moves_are_the_lifecycle_table() -> None:
    for move in LEGAL_MOVES:
        before, after = move.split(">")
        assert is_legal(S(before), S(after))
    assert len(LEGAL_MOVES) == sum(is_legal(a, b) for a in S for b in S)


def test_every_milestone_has_its_sales_column() -> None:
    from infra.db.models import Sale

    columns = set(Sale.__table__.columns.keys())
    assert set(MILESTONE_FIELDS.values()) <= columns
    assert {c for c in columns if c.endswith("_at")} - set(MILESTONE_FIELDS.values()) == {
        "created_at",
        "status_at",
        "promised_delivery_at",
        "updated_at",
    }

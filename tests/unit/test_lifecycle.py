"""The transition table: shape, pure functions, and the diagram kept in docs/."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from domain.lifecycle import (
    CHANGE_STATUSES,
    INITIAL_STATUS,
    RANK,
    TRANSITIONS,
    OrderStatus,
    is_legal,
    is_terminal,
    legal_next,
    mermaid_diagram,
    rank,
)

S = OrderStatus
DOCS = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_every_status_has_moves_and_a_rank() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert set(RANK) == set(OrderStatus)
    assert len(set(RANK.values())) == len(RANK)


def test_happy_path_is_legal() -> None:
    path = [S.PENDING, S.APPROVED, S.PROCESSING, S.PACKED, S.SHIPPED, S.IN_TRANSIT]
    path += [S.OUT_FOR_DELIVERY, S.DELIVERED]
    assert is_legal(None, S.PENDING)
    for previous, new in itertools.pairwise(path):
        assert is_legal(previous, new), (previous, new)


@pytest.mark.parametrize(
    ("previous", "new"),
    [
        (S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED),
        (S.DELIVERY_FAILED, S.OUT_FOR_DELIVERY),
        (S.DELIVERY_FAILED, S.RETURNED_TO_SENDER),
        (S.IN_TRANSIT, S.LOST),
        (S.PENDING, S.CANCELLED),
        (S.PACKED, S.CANCELLED),
    ],
)
def test_real_branches_are_legal(previous: OrderStatus, new: OrderStatus) -> None:
    assert is_legal(previous, new)


@pytest.mark.parametrize(
    ("previous", "new"),
    [
        (None, S.SHIPPED),
        (S.PENDING, S.DELIVERED),
        (S.SHIPPED, S.CANCELLED),
        (S.DELIVERED, S.OUT_FOR_DELIVERY),
        (S.CANCELLED, S.APPROVED),
        (S.SHIPPED, S.SHIPPED),
    ],
)
def test_forbidden_moves(previous: OrderStatus | None, new: OrderStatus) -> None:
    assert not is_legal(previous, new)


def test_terminal_statuses() -> None:
    terminal = {s for s in OrderStatus if is_terminal(s)}
    assert terminal == {S.DELIVERED, S.RETURNED_TO_SENDER, S.LOST, S.CANCELLED}
    # a tie at equal event time never moves an order out of a final state
    assert min(rank(s) for s in terminal) > max(rank(s) for s in set(OrderStatus) - terminal)


def test_every_status_is_reachable_and_can_end() -> None:
    seen, frontier = {INITIAL_STATUS}, [INITIAL_STATUS]
    while frontier:
        for target in legal_next(frontier.pop()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(OrderStatus)
    assert set(OrderStatus) - {INITIAL_STATUS} == CHANGE_STATUSES


def test_docs_hold_the_current_diagram() -> None:
    assert mermaid_diagram() in DOCS.read_text(encoding="utf-8")

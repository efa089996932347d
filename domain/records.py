"""Immutable value records for the per-message path.

A frozen dataclass guards every field at run time: its ``__init__`` sets each one
through ``object.__setattr__``, four times the cost of a plain slot assignment.
The records made for every message and every order of a batch (positions,
received events, order summaries) are created tens of thousands of times a
second, so :func:`record` leaves that guard to the type checker: mypy --strict
refuses any assignment to a field (``frozen_default``), while at run time the
class is a slotted dataclass with the frozen one's equality and hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """A slotted dataclass, read-only to the type checker, hashable by its fields."""
    return dataclass(slots=True, unsafe_hash=True)(cls)

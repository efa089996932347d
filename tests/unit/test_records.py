"""``domain.records.record``: read-only to the type checker, a value at run time."""

from __future__ import annotations

import dataclasses

import pytest
from mypy import api as mypy_api

from consumer.batch import SourcePosition
from domain.records import record


@record
class _Point:
    x: int
    y: int = 0


def test_equal_fields_make_equal_records_with_equal_hashes() -> None:
    assert _Point(1, 2) == _Point(1, 2)
    assert _Point(1, 2) != _Point(2, 1)
    assert hash(_Point(1, 2)) == hash(_Point(1, 2))
    assert {SourcePosition("t", 0, 5): "seen"}[SourcePosition("t", 0, 5)] == "seen"


def test_records_are_slotted_and_replace_makes_a_new_one() -> None:
    point = _Point(1)
    with pytest.raises(AttributeError):
        point.z = 3  # type: ignore[attr-defined]
    moved = dataclasses.replace(point, y=4)
    assert (point.y, moved.y) == (0, 4)


def test_the_type_checker_refuses_assigning_a_field() -> None:
    code = (
        "from consumer.batch import SourcePosition\np = SourcePosition('t', 0, 5)\np.offset = 6\n"
    )
    # no config file: the project's names its packages, which mypy takes only without -c
    out, _, status = mypy_api.run(
        ["--config-file=", "--strict", "--no-incremental", "--follow-imports=silent", "-c", code]
    )
    assert status == 1
    assert 'Property "offset" defined in "SourcePosition" is read-only' in out

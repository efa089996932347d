"""SQLite driver rows: what SQLAlchemy's own column types bind, with NULL as NaN, and
only values the driver binds without an adapter."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Boolean, Integer, Numeric, String, Table, Text
from sqlalchemy.dialects import sqlite

from infra.db import apply_sql
from infra.db.apply_sql import row_columns
from infra.db.models import UtcDateTime
from infra.db.sqlite_rows import NULL, Micros, row_converter


def _value(rng: random.Random, column: Any) -> object:
    """A value of ``column``'s type, or None where the column takes NULL."""
    if column.nullable and rng.random() < 0.3:
        return None
    kind = column.type
    if isinstance(kind, UtcDateTime):
        offset = timezone(timedelta(minutes=rng.randrange(-720, 720, 15)))
        return datetime(2025, 1, 6, tzinfo=offset) + timedelta(microseconds=rng.randrange(10**13))
    if isinstance(kind, Numeric):
        return Decimal(rng.randrange(10**6)) / 100
    if isinstance(kind, Boolean):
        return rng.random() < 0.5
    if isinstance(kind, Integer):
        return rng.randrange(-(2**40), 2**40)
    assert isinstance(kind, String | Text), kind
    return f"text-{rng.randrange(1000)}"


@pytest.mark.parametrize("table", [apply_sql.HISTORY, apply_sql.SALES], ids=lambda t: t.name)
def test_rows_bind_as_the_column_types_would(table: Table) -> None:
    names = row_columns(table)
    convert = row_converter(table, names)
    dialect = sqlite.dialect()
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    rng = random.Random(7)
    micros: Micros = {}
    for _ in range(300):
        row = tuple(_value(rng, table.c[name]) for name in names)
        converted = convert(row, micros)
        assert len(converted) == len(names)
        for name, value, process, got in zip(names, row, processors, converted, strict=True):
            want = process(value) if process is not None else value
            if want is None:
                assert got is NULL and math.isnan(got), name
            else:
                assert type(got) in (int, float, str), (name, got)  # no adapter needed
                assert got == want and type(got) is type(want), (name, value, got, want)


def test_a_time_met_again_is_converted_once() -> None:
    names = row_columns(apply_sql.HISTORY)
    convert = row_converter(apply_sql.HISTORY, names)
    at = datetime(2025, 1, 6, 12, tzinfo=timezone(timedelta(hours=2)))
    row = tuple(at if name in ("occurred_at", "ingested_at") else None for name in names)
    micros: Micros = {}
    first, second = convert(row, micros), convert(row, micros)
    at_us = 1736157600 * 10**6  # 2025-01-06T10:00Z
    assert first[names.index("occurred_at")] == first[names.index("ingested_at")] == at_us
    assert first == second  # every NULL is the one NULL object
    assert list(micros) == [id(at)] and micros[id(at)][1] == at_us

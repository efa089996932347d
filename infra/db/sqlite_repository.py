"""SQLite's apply-path repository: rows as multi-row ``VALUES`` lists, state read back
as one JSON row.

Every row a statement returns is one more ``sqlite3_step``, and the driver releases
and takes back the interpreter lock around each step. While another thread runs
Python (the next batch being decoded) each take-back waits for it: 20,000 returned
rows took ten times as long as alone. So the writes return nothing, and what they
would have returned is read back as a single row (``json_group_array``): a batch
takes a handful of steps, not one per row.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import Boolean, Insert, Numeric, Result, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

from infra.db import apply_sql, judge_sql
from infra.db.apply_sql import row_columns
from infra.db.models import UtcDateTime, from_micros, utc_micros
from infra.db.repository import SqlOrderRepository

#: converted times by the id of their datetime (held, so the id stays its own)
_Micros = dict[int, tuple[datetime, int]]


class SqliteOrderRepository(SqlOrderRepository):
    """Writes ``VALUES`` lists; re-judges, then recounts, chunk by chunk."""

    #: rows the last history insert added (-1: some were stored already)
    _inserted = -1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: each time of this transaction's rows in microseconds, by the datetime's id:
        #: an event's time recurs in its order's row, the write time in every row, and
        #: the conversion (an offset call per value) was a tenth of an ingest's time
        self._micros: _Micros = {}

    def rejudge(self, order_ids: Collection[str]) -> int:
        illegal = 0
        changed = judge_sql.rejudge_history(self._backend)
        recount = judge_sql.recount_illegal(self._backend)
        for chunk in self._chunks(order_ids):
            result = self._conn.execute(changed, {"order_ids": list(chunk)})
            illegal += sum(legal is not None and not legal for _, legal in result.all())
            # every order: counts added on arrival may be off for a re-judged order
            self._conn.execute(recount, {"order_ids": list(chunk)})
        return illegal

    def _head_rows(self, order_ids: Collection[str]) -> Sequence[Sequence[Any]]:
        rows = self._packed(apply_sql.SALES, judge_sql.HEAD_COLUMNS, order_ids)
        for row in rows:
            row[2] = from_micros(row[2])  # status_at, as UtcDateTime reads it
        return rows

    def _all_inserted(self, result: Result[*tuple[Any, ...]], rows: int) -> bool:
        return self._inserted == rows

    def _write(self, table: Table, values: Sequence[tuple[Any, ...]]) -> Result[*tuple[Any, ...]]:
        # Straight to the driver: SQLAlchemy's per-value bind processing cost as much
        # as SQLite's own work here. Values are converted per column, as the types would.
        plan = _values_plan(self._statement(table), table)
        micros = self._micros
        rows = [plan.convert(v, micros) for v in values]
        if table is not apply_sql.HISTORY:
            # every row is inserted or updated: read back what RETURNING would give
            self._execute(plan, rows)
            found: list[Any] = self._packed(table, plan.returning, [row[plan.key] for row in rows])
            return IteratorResult(SimpleResultMetaData(plan.returning), map(tuple, found))
        # The ids stored already, looked up first: the insert then returns nothing, and
        # the batch's write lock (BEGIN IMMEDIATE) keeps the answer true until commit.
        ids = [row[plan.key] for row in rows]
        stored = {key for (key,) in self._packed(table, plan.returning, ids)}
        new = [row for row in rows if row[plan.key] not in stored] if stored else rows
        self._inserted = self._execute(plan, new)
        if self._inserted != len(new):
            raise RuntimeError(f"{len(new) - self._inserted} history rows appeared meanwhile")
        found = [(row[plan.key],) for row in new] if stored else []
        self._inserted = len(rows) if not stored else -1
        return IteratorResult(SimpleResultMetaData(plan.returning), iter(found))

    def _execute(self, plan: _ValuesPlan, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``plan`` over ``rows`` without RETURNING; the rows it changed."""
        changed = 0
        for sql, flat in plan.statements(rows):
            changed += self._conn.exec_driver_sql(sql, flat).rowcount
        return changed

    def _packed(
        self, table: Table, columns: Sequence[str], keys: Collection[str]
    ) -> list[list[Any]]:
        """``columns`` (text or integers) of the rows of ``table`` whose primary key is
        in ``keys``, fetched as one JSON value."""
        (key,) = table.primary_key.columns
        sql = (
            f"SELECT json_group_array(json_array({', '.join(columns)})) FROM {table.name}"
            f" WHERE {key.name} IN (SELECT value FROM json_each(?))"
        )
        text = self._conn.exec_driver_sql(sql, (json.dumps(list(keys)),)).scalar_one()
        rows: list[list[Any]] = json.loads(text)
        return rows


#: a NULL as the driver binds it fastest: SQLite stores a NaN bound as a double as
#: NULL (``sqlite3_bind_double``), and no value written here is ever a NaN
NULL = float("nan")
#: bound values per statement: SQLite's smallest default limit (3.32 on)
_MAX_VARIABLES = 32766


class _ValuesPlan:
    """A statement as SQL text with a ``VALUES`` list of any length (its RETURNING clause
    left out), and the per-column conversion of a row to the driver's values."""

    def __init__(self, statement: Insert, table: Table) -> None:
        names = row_columns(table)
        compiled = statement.compile(dialect=_DIALECT, column_keys=list(names))
        if tuple(compiled.positiontup or ()) != names:
            raise AssertionError(f"{table.name}: parameters {compiled.positiontup} != {names}")
        one = "(" + ", ".join("?" * len(names)) + ")"
        head, found, tail = compiled.string.partition(f"VALUES {one}")
        if not found or one in tail:
            raise AssertionError(f"{table.name}: no single VALUES row in {compiled.string}")
        quiet, returns, _ = tail.partition(" RETURNING ")
        if not returns:
            raise AssertionError(f"{table.name}: no RETURNING in {compiled.string}")
        self._head, self._one = f"{head}VALUES ", one
        self._tail = quiet
        self.returning = [d["name"] for d in statement.returning_column_descriptions]
        (key,) = table.primary_key.columns
        #: the position of the primary key in a row
        self.key = names.index(key.name)
        self.rows_per_statement = _MAX_VARIABLES // len(names)
        types = [table.c[name].type for name in names]
        self._times = [i for i, t in enumerate(types) if isinstance(t, UtcDateTime)]
        self._numbers = [i for i, t in enumerate(types) if isinstance(t, Numeric)]
        self._flags = [i for i, t in enumerate(types) if isinstance(t, Boolean)]

    def statements(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """SQL text and flat parameters of each statement that writes ``rows`` (without
        the RETURNING clause: :attr:`returning` names what it would return)."""
        for start in range(0, len(rows), self.rows_per_statement):
            chunk = rows[start : start + self.rows_per_statement]
            sql = self._head + ", ".join([self._one] * len(chunk)) + self._tail
            yield sql, tuple(chain.from_iterable(chunk))

    def convert(self, values: tuple[Any, ...], micros: _Micros) -> list[Any]:
        """``values`` as the driver binds them; ``micros`` remembers converted times
        (it holds each datetime, so no id is reused while it is kept).

        ``None`` becomes :data:`NULL` and a flag an integer: the driver binds a float,
        an integer or a string directly, but looks up an adapter for any other value
        (``None`` and ``bool`` included), ten times the cost (measured 494 against
        53 ns a value); a sales row holds a dozen NULLs.
        """
        row: list[Any] = [NULL if value is None else value for value in values]
        for i in self._times:
            if (at := row[i]) is not NULL:
                known = micros.get(id(at))
                if known is None:
                    known = micros[id(at)] = (at, utc_micros(at))
                row[i] = known[1]
        for i in self._numbers:
            if (number := row[i]) is not NULL:
                row[i] = float(number)  # as SQLAlchemy binds Numeric on SQLite
        for i in self._flags:
            if (flag := row[i]) is not NULL:
                row[i] = 1 if flag else 0  # as SQLAlchemy binds Boolean on SQLite
        return row


_DIALECT = sqlite.dialect(paramstyle="qmark")
_plans: dict[Insert, _ValuesPlan] = {}


def _values_plan(statement: Insert, table: Table) -> _ValuesPlan:
    plan = _plans.get(statement)
    if plan is None:
        plan = _plans[statement] = _ValuesPlan(statement, table)
    return plan

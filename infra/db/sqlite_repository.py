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
from itertools import chain
from typing import Any

from sqlalchemy import Insert, Result, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

from infra.db import apply_sql, judge_sql
from infra.db.apply_sql import row_columns
from infra.db.models import from_micros
from infra.db.repository import SqlOrderRepository
from infra.db.sqlite_rows import Micros, row_converter

#: what the sales upsert merges from a stored row: status_at, status_rank,
#: status_event_id, event_count, awaiting_creation (None: the order had no row)
_Stored = tuple[int, int, str, int, int] | None
#: the ``sales`` columns a head is read with here: the head's, and awaiting_creation
_HEAD_READ = (*judge_sql.HEAD_COLUMNS, "awaiting_creation")
_SALES_AT = {name: i for i, name in enumerate(row_columns(apply_sql.SALES))}
_HISTORY_ORDER = row_columns(apply_sql.HISTORY).index("order_id")
#: the rowid of the last history row: a row inserted later has a greater one
_LAST_HISTORY_ROWID = f"SELECT coalesce(max(rowid), 0) FROM {apply_sql.HISTORY.name}"
#: ``_stored.get``'s answer for an order whose row this transaction did not read
_UNREAD = ()
#: the state of each order's row after the upsert, as its RETURNING clause names it
_UPSERTED = ["order_id", "status_event_id", "awaiting_creation", "event_count"]


class SqliteOrderRepository(SqlOrderRepository):
    """Writes ``VALUES`` lists; re-judges, then recounts, chunk by chunk."""

    #: rows the last history insert added (-1: some were stored already)
    _inserted = -1
    #: the ids the last history insert added, when some were stored already
    _new: Collection[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: each time of this transaction's rows in microseconds, by the datetime's id:
        #: an event's time recurs in its order's row, the write time in every row, and
        #: the conversion (an offset call per value) was a tenth of an ingest's time
        self._micros: Micros = {}
        #: the sales rows this transaction read (``read_heads``) and has not written since
        self._stored: dict[str, _Stored] = {}

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
        stored = self._stored
        stored.update(dict.fromkeys(order_ids))  # no row, unless read below
        heads = []
        for order_id, status, at, rank, event_id, count, awaiting in self._packed(
            apply_sql.SALES, _HEAD_READ, order_ids
        ):
            stored[order_id] = (at, rank, event_id, count, awaiting)
            heads.append((order_id, status, from_micros(at), rank, event_id, count))
        return heads

    def _all_inserted(self, result: Result[*tuple[Any, ...]], rows: int) -> bool:
        return self._inserted == rows

    def _inserted_ids(self, result: Result[*tuple[Any, ...]]) -> Collection[str]:
        return self._new  # the insert returns nothing: the ids it was given

    def _write(self, table: Table, values: Sequence[tuple[Any, ...]]) -> Result[*tuple[Any, ...]]:
        # Straight to the driver: SQLAlchemy's per-value bind processing cost as much
        # as SQLite's own work here. Values are converted per column, as the types would.
        plan = _values_plan(self._statement(table), table)
        micros = self._micros
        rows = [plan.convert(v, micros) for v in values]
        if table is not apply_sql.HISTORY:
            self._execute(plan, rows)
            if plan.returning != _UPSERTED:
                raise AssertionError(f"the sales upsert returns {plan.returning}")
            found: list[Any] | None = self._merged(rows)
            if found is None:  # a row this transaction did not read: read back what it holds
                found = self._packed(table, plan.returning, [row[plan.key] for row in rows])
            return IteratorResult(SimpleResultMetaData(plan.returning), map(tuple, found))
        return self._append(plan, rows)

    def _append(self, plan: _ValuesPlan, rows: Sequence[Sequence[Any]]) -> Result[*tuple[Any, ...]]:
        """Insert the history ``rows`` whose ids are not stored yet. What the insert's
        RETURNING clause would give is kept instead: how many (``_inserted``) and, when
        some were stored already, their ids (``_new``).

        The stored ids are looked up first, so the insert returns nothing; the batch's
        write lock (BEGIN IMMEDIATE) keeps the answer true until commit. Only the ids of
        events whose order has a ``sales`` row, or was not read, are looked up: an event
        and its order's row are written in one transaction, so another event's id is
        stored only if an event of another order took it, which the insert's count
        shows. Two thirds of a file's events belong to orders new to their batch.
        """
        key, order = plan.key, _HISTORY_ORDER
        orders = self._stored
        looked_up = [row[key] for row in rows if orders.get(row[order], _UNREAD) is not None]
        stored = {k for (k,) in self._packed(apply_sql.HISTORY, plan.returning, looked_up)}
        new = [row for row in rows if row[key] not in stored] if stored else rows
        before = self._conn.exec_driver_sql(_LAST_HISTORY_ROWID).scalar_one()
        inserted = self._execute(plan, new)
        if inserted != len(new):  # an id taken by another order's event: which ones
            taken = self._packed(
                apply_sql.HISTORY, plan.returning, [row[key] for row in new], f"rowid <= {before}"
            )
            stored.update(k for (k,) in taken)
            new = [row for row in new if row[key] not in stored]
            if inserted != len(new):
                raise RuntimeError(f"{len(new) - inserted} history rows appeared meanwhile")
        self._inserted = len(rows) if not stored else -1
        self._new = {row[key] for row in new} if stored else set()
        return IteratorResult(SimpleResultMetaData(plan.returning), iter([]))

    def _merged(self, rows: Sequence[Sequence[Any]]) -> list[Any] | None:
        """What the sales upsert of ``rows`` returns, worked out from the rows this
        transaction read before it, as the upsert merges them (the later status by
        ``(status_at, status_rank, status_event_id)``, counts added, awaiting while
        both are); ``None`` if some order's row was not read. No other connection
        writes until this transaction ends (BEGIN IMMEDIATE), so what was read is
        what the upsert met; reading it back was one more statement a batch (0.2 s of
        a 163k-event ingest)."""
        stored = self._stored
        order, at, rank, event, count, awaiting = (
            _SALES_AT[name]
            for name in (
                "order_id", "status_at", "status_rank", "status_event_id", "event_count",
                "awaiting_creation",
            )
        )  # fmt: skip
        if not all(row[order] in stored for row in rows):
            return None
        merged = []
        for row in rows:
            before = stored.pop(row[order])  # written now: a later write reads it again
            if before is None:
                merged.append((row[order], row[event], row[awaiting], row[count]))
                continue
            event_id = row[event]
            if (row[at], row[rank], event_id) <= before[:3]:
                event_id = before[2]
            merged.append(
                (row[order], event_id, row[awaiting] and before[4], row[count] + before[3])
            )
        return merged

    def _execute(self, plan: _ValuesPlan, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``plan`` over ``rows`` without RETURNING; the rows it changed."""
        changed = 0
        for sql, flat in plan.statements(rows):
            changed += self._conn.exec_driver_sql(sql, flat).rowcount
        return changed

    def _packed(
        self, table: Table, columns: Sequence[str], keys: Collection[str], where: str = ""
    ) -> list[list[Any]]:
        """``columns`` (text or integers) of the rows of ``table`` whose primary key is
        in ``keys`` (and that meet ``where``), fetched as one JSON value."""
        if not keys:
            return []
        (key,) = table.primary_key.columns
        sql = (
            f"SELECT json_group_array(json_array({', '.join(columns)})) FROM {table.name}"
            f" WHERE {key.name} IN (SELECT value FROM json_each(?))"
            + (f" AND {where}" if where else "")
        )
        text = self._conn.exec_driver_sql(sql, (json.dumps(list(keys)),)).scalar_one()
        rows: list[list[Any]] = json.loads(text)
        return rows


#: bound values per statement: SQLite's smallest default limit (3.32 on)
_MAX_VARIABLES = 32766


class _ValuesPlan:
    """A statement as SQL text with a ``VALUES`` list of any length (its RETURNING clause
    left out), and the conversion of a row to the driver's values."""

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
        #: a row of model values as the driver binds them
        self.convert = row_converter(table, names)

    def statements(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """SQL text and flat parameters of each statement that writes ``rows`` (without
        the RETURNING clause: :attr:`returning` names what it would return)."""
        for start in range(0, len(rows), self.rows_per_statement):
            chunk = rows[start : start + self.rows_per_statement]
            sql = self._head + ", ".join([self._one] * len(chunk)) + self._tail
            yield sql, tuple(chain.from_iterable(chunk))


_DIALECT = sqlite.dialect(paramstyle="qmark")
_plans: dict[Insert, _ValuesPlan] = {}


def _values_plan(statement: Insert, table: Table) -> _ValuesPlan:
    plan = _plans.get(statement)
    if plan is None:
        plan = _plans[statement] = _ValuesPlan(statement, table)
    return plan

"""The one seam between the SQL rules and the database they run on.

Every rule (the merge of a batch, legality, heads, re-judging, the SLA figures)
is written once, in SQLAlchemy or as one SQL template; what differs between
PostgreSQL and SQLite is asked of a :class:`SqlBackend`: a few expressions, how
rows reach the server (PostgreSQL: binary ``COPY`` into a staging table; SQLite:
a ``VALUES`` list) and which repository class runs the apply path. One subclass
per database (:mod:`infra.db.postgres`, :mod:`infra.db.sqlite`), chosen by
:func:`backend_for` -- the only place that looks at the database's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import URL, ColumnElement, Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from infra.db.repository import SqlOrderRepository
    from infra.db.standby import StandbyStatus

#: SQLAlchemy dialect name -> "module:class" of its backend (imported on first use)
_BACKENDS = {
    "postgresql": "infra.db.postgres:PostgresBackend",
    "sqlite": "infra.db.sqlite:SqliteBackend",
}
_instances: dict[str, SqlBackend] = {}

#: an ``INSERT`` with ``ON CONFLICT`` (``on_conflict_do_*``, ``excluded``)
Upsert = postgresql.Insert | sqlite.Insert


def backend_for(bind: Connection | Engine) -> SqlBackend:
    """The backend of ``bind``'s database.

    Raises ``NotImplementedError`` for a database other than PostgreSQL or SQLite.
    """
    return backend_named(bind.dialect.name)


def backend_named(name: str) -> SqlBackend:
    """The backend of SQLAlchemy dialect ``name`` (as a URL's ``get_backend_name()``).

    Raises ``NotImplementedError`` for a database other than PostgreSQL or SQLite.
    """
    found = _instances.get(name)
    if found is None:
        path = _BACKENDS.get(name)
        if path is None:
            raise NotImplementedError(
                f"unsupported database backend {name!r} (use postgresql or sqlite)"
            )
        module, cls = path.split(":")
        found = _instances[name] = getattr(import_module(module), cls)()
    return found


class SqlBackend(ABC):
    """What differs between the databases, and nothing else. Instances are stateless
    singletons (:func:`backend_for`), so they key caches of built statements."""

    #: most ids one statement takes as a parameter (``None``: any number)
    ids_per_statement: ClassVar[int | None]
    #: execution options of a report's connection: every statement reads one snapshot
    report_options: ClassVar[dict[str, Any]]
    #: whether one query can compute several breakdowns (``GROUP BY GROUPING SETS``)
    grouping_sets: ClassVar[bool] = False
    #: whether a second connection can read the snapshot of a first (a report splits
    #: its aggregates between them, see ``infra.reporting.shared_snapshot``)
    shares_snapshots: ClassVar[bool] = False

    @abstractmethod
    def make_engine(self, url: URL, **kwargs: Any) -> Engine:
        """An engine for ``url`` with the session settings the apply path relies on."""

    @abstractmethod
    def bounded_connect_args(self, timeout_s: float) -> dict[str, Any]:
        """Driver connect arguments under which connecting and each statement give up
        after about ``timeout_s`` (health checks answer fast rather than wait)."""

    # -- the apply path ------------------------------------------------------------------

    @abstractmethod
    def insert(self, table: Table) -> Upsert:
        """An ``INSERT`` into ``table`` that supports ``ON CONFLICT``."""

    @abstractmethod
    def insert_rows(self, table: Table) -> Upsert:
        """The ``INSERT`` of a batch's rows of ``table`` as the transport delivers them
        (a ``VALUES`` list of parameters, or a ``SELECT`` of the staged rows)."""

    @abstractmethod
    def binary_text(self, column: Any) -> Any:
        """``column`` compared byte-wise, as Python compares ``str(uuid)``."""

    @abstractmethod
    def among(self, column: Any, name: str) -> ColumnElement[bool]:
        """``column`` is one of the ids of parameter ``name`` (a list)."""

    @abstractmethod
    def order_repository(
        self, connection: Connection, clock: Callable[[], datetime] | None = None
    ) -> SqlOrderRepository:
        """The apply path's repository on ``connection`` (inside its transaction)."""

    def after_commit(self, engine: Engine, orders: SqlOrderRepository) -> None:  # noqa: B027
        """Called after the apply path's transaction on ``orders`` committed (a no-op by
        default; PostgreSQL keeps the planner's statistics current, see
        ``infra.db.statistics``)."""

    def after_lock_timeout(self, engine: Engine) -> None:  # noqa: B027 -- a no-op by default
        """Called when a batch gave up waiting for a row lock (see ``infra.db.stuck``)."""

    def standby_status(self, conn: Connection) -> StandbyStatus | None:
        """The replay state of a hot standby, or None for a primary (the default)."""
        return None

    def in_recovery(self, conn: Connection) -> bool:
        """Whether ``conn`` reads a read-only standby (no scratch tables)."""
        return False

    # -- the SLA figures: expressions inside one SQL template ----------------------------

    @abstractmethod
    def epoch_us(self, column: str) -> str:
        """A stored UTC timestamp as integer microseconds since 1970 (NULL stays NULL)."""

    @abstractmethod
    def now_us(self) -> str:
        """The current instant as integer microseconds since 1970."""

    @abstractmethod
    def timestamp(self, micros: str) -> str:
        """Integer microseconds back to a timestamp."""

    @abstractmethod
    def day(self, column: str) -> str:
        """The UTC calendar day of a timestamp."""

    def fence(self) -> str:
        """Ends a CTE body so its columns are computed once (empty where not needed)."""
        return ""

    def once(self, expression: str) -> str:
        """``expression`` computed once per statement where the planner would not."""
        return expression

    @abstractmethod
    def reached(self, column: str, as_of_us: str, value: bool) -> str:
        """``column`` (microseconds if ``value``, else 1) if not after the as-of instant."""

    def seconds(self, micros: str) -> str:
        return f"(CAST({micros} AS DOUBLE PRECISION) / 1000000.0)"

    @abstractmethod
    def percentile_select(
        self,
        columns: Sequence[str],
        keys: Sequence[str],
        source: str,
        group_by: str,
        metrics: Sequence[str],
        percentiles: Sequence[tuple[str, float]],
    ) -> str:
        """``SELECT columns`` plus ``{metric}_{label}_s``, the linear-interpolation
        percentile of each ``{metric}_s`` per group, over ``source``'s rows."""


def percentile_cont_columns(
    metrics: Sequence[str], percentiles: Sequence[tuple[str, float]]
) -> list[str]:
    """Standard SQL's ordered-set ``percentile_cont`` of each ``{metric}_s``, named
    ``{metric}_{label}_s`` (for a backend that has it)."""
    return [
        f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY {metric}_s) AS {metric}_{label}_s"
        for metric in metrics
        for label, fraction in percentiles
    ]

"""The ``order_sla`` and ``sla_daily`` views as today's SQL would create them.

Migrations carry their own frozen copy of the view SQL (a view keeps the SQL it
was created with); this is the live form, from the same SQL the report runs.
``tests/integration/test_migrated_views.py`` proves a migrated database has it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, text

from infra.db.backend import SqlBackend, backend_for
from infra.db.sla_policy import policy_rows, sla_policy
from infra.reporting.aggregate_sql import aggregate_select
from infra.reporting.order_sla_sql import order_sla_select


def create_view_statements(backend: SqlBackend) -> list[str]:
    """DDL creating ``order_sla`` (as of now) and ``sla_daily`` (by creation day)."""
    per_order = order_sla_select(backend, backend.now_us())
    daily = aggregate_select(backend, ("day",), "SELECT * FROM order_sla")
    return [f"CREATE VIEW order_sla AS {per_order}", f"CREATE VIEW sla_daily AS {daily}"]


def install(connection: Connection, rows: Sequence[dict[str, object]] | None = None) -> None:
    """Create and seed ``sla_policy`` and create the views on tables made with
    ``create_all`` (``sales`` must exist), as a migrated database has them.

    Raises the driver's error (as SQLAlchemy DBAPIError) when an object already exists.
    """
    sla_policy.create(connection)
    connection.execute(insert(sla_policy), list(rows if rows is not None else policy_rows()))
    for statement in create_view_statements(backend_for(connection)):
        connection.execute(text(statement))

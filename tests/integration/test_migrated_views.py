"""A database migrated to head has the SLA views today's SQL would create.

The migrations carry frozen copies of the view SQL; the report's live SQL
(``infra.reporting.sla_views``) is a separate thing. If the two drift apart, a
new migration must carry the new SQL: this is the test that says so. One test
case per backend, each reading the view definitions as its database stores them.
"""

from __future__ import annotations

from abc import abstractmethod

import pytest
from sqlalchemy import Connection, Engine, text

from infra.db.backend import backend_for
from infra.reporting.sla_views import create_view_statements
from tests.support.backends import MigratedBackendCase

pytestmark = pytest.mark.integration

VIEWS = ("order_sla", "sla_daily")


class MigratedViewsContract(MigratedBackendCase):
    @abstractmethod
    def definitions(self, conn: Connection) -> dict[str, str]:
        """Each view's SQL as the database holds it, comparable across creations."""

    def test_head_has_the_views_the_live_sql_creates(self, engine: Engine) -> None:
        with engine.begin() as conn:
            migrated = self.definitions(conn)
            for name in reversed(VIEWS):  # sla_daily reads order_sla
                conn.execute(text(f"DROP VIEW {name}"))
            for statement in create_view_statements(backend_for(conn)):
                conn.execute(text(statement))
            live = self.definitions(conn)
        assert set(migrated) == set(VIEWS)
        assert migrated == live

    def test_the_migrated_views_answer(self, engine: Engine) -> None:
        with engine.connect() as conn:
            for name in VIEWS:
                assert conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one() == 0


class TestSqliteMigratedViews(MigratedViewsContract):
    def url(self, request: pytest.FixtureRequest) -> str:
        return str(request.getfixturevalue("sqlite_url"))

    def definitions(self, conn: Connection) -> dict[str, str]:
        # SQLite keeps the statement's text as written: compare it word by word
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
        return {name: " ".join(sql.split()) for name, sql in rows}


class TestPostgresMigratedViews(MigratedViewsContract):
    def url(self, request: pytest.FixtureRequest) -> str:
        return str(request.getfixturevalue("pg_database_url"))

    def definitions(self, conn: Connection) -> dict[str, str]:
        # the server's own rendering of the parsed view, not the text it was given
        rows = conn.execute(
            text("SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema()")
        )
        return {name: definition for name, definition in rows}

"""One test case per database backend: subclasses name the database, the base gives
each test a freshly migrated engine on it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from infra.db.engine import make_engine
from infra.db.migrate import upgrade


class MigratedBackendCase(ABC):
    """A test case run once per backend; ``engine`` is migrated to the newest revision."""

    @abstractmethod
    def url(self, request: pytest.FixtureRequest) -> str: ...

    @pytest.fixture
    def engine(self, request: pytest.FixtureRequest) -> Iterator[Engine]:
        db = make_engine(self.url(request))
        upgrade(db)
        yield db
        db.dispose()

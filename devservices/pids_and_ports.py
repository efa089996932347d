"""Process and port helpers shared by the local services: spawn, probe, stop by pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from devservices.exceptions import ServiceStopError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_bindable(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could listen on ``host:port`` now (SO_REUSEADDR, as servers use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    abort: Callable[[], str | None] = lambda: None,
) -> bool:
    """Poll ``predicate`` until it is true (returns True) or ``timeout`` passes (False).

    ``abort`` is checked before each poll; a non-None reason stops the wait early (False).
    """
    deadline = time.monotonic() + timeout
    while True:
        if abort() is not None:
            return False
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` names a running process (a zombie counts as gone).

    A process is gone only when every thread of it is: a killed JVM's main thread
    is often a zombie while its other threads are still exiting (and its parent
    cannot reap it yet), so the leader's own state alone would say "gone" too soon.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        threads = [entry / "stat" for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        threads = [Path(f"/proc/{pid}/stat")]
    return any(_running(stat) for stat in threads)


def _running(stat_path: Path) -> bool:
    try:
        stat = stat_path.read_text()
    except FileNotFoundError:  # this thread ended since the directory was listed
        return False
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def pid_cmdline(pid: int) -> str:
    """The command line of ``pid`` joined by spaces, or "" when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def stop_pid(
    pid: int,
    *,
    signals: Sequence[signal.Signals],
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Send each of ``signals`` in turn, waiting ``timeout`` s after each, then SIGKILL.

    Reaps ``process`` when it is our child. Raises ServiceStopError if the pid survives SIGKILL.
    """

    def gone() -> bool:
        if process is not None:
            return process.poll() is not None
        return not pid_alive(pid)

    for sig in [*signals, signal.SIGKILL]:
        if gone():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if wait_until(gone, timeout=timeout if sig != signal.SIGKILL else 10.0):
            return
    raise ServiceStopError(f"process {pid} is still running after SIGKILL")


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    run_as: str | None = None,
    parent_death_signal: signal.Signals | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with stdout and stderr appended to ``log_path``.

    ``run_as`` switches to that user (needs root); ``parent_death_signal`` asks the kernel to
    send that signal when the spawning thread dies, so a crashed test run leaves no server behind.
    Both use util-linux ``setpriv``, which execs in place, so the returned pid is the server's.
    """
    prefix: list[str] = []
    if run_as is not None or parent_death_signal is not None:
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            prefix = [setpriv]
            if run_as is not None:
                prefix += ["--reuid", run_as, "--regid", run_as, "--init-groups"]
            if parent_death_signal is not None:
                prefix += ["--pdeathsig", parent_death_signal.name.removeprefix("SIG")]
            prefix.append("--")
    user = run_as if run_as is not None and not prefix else None
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user is not None else None,
        )


def run_checked(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    run_as: str | None = None,
    timeout: float = 120.0,
) -> str:
    """Run a short command to completion and return its combined output.

    Raises subprocess.CalledProcessError (with the output) when it exits non-zero.
    """
    user = run_as
    result = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
        user=user,
        group=user,
        extra_groups=[] if user is not None else None,
    )
    output = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, list(argv), output=output)
    return output


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])

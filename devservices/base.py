"""The life cycle shared by the local services: prepare a directory, spawn, wait, stop by pid."""

from __future__ import annotations

import abc
import contextlib
import functools
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from devservices import pids_and_ports
from devservices.exceptions import ServiceStartError, ServiceStopError


class StartedInContext:
    """``with server:`` starts it and stops it on leaving (``start()`` returns the server)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalService(StartedInContext, abc.ABC):
    """One server process on 127.0.0.1 that owns a directory (data, config, logs).

    ``start()`` prepares the directory on first use and waits until the server answers;
    ``stop(keep_data=True)`` ends the process but keeps port and directory so that ``start()``
    brings the same server back (fault tests; ``graceful=False`` crashes it instead);
    ``stop()`` also removes a directory it created. Failure to start raises ServiceStartError
    with the log tail, after killing the process. With ``tie_to_parent`` (the default) a server
    started from the main thread dies with this Python process, so a crashed run leaves none.
    """

    name: ClassVar[str]
    #: Signals tried in order by stop() before SIGKILL.
    stop_signals: ClassVar[tuple[signal.Signals, ...]] = (signal.SIGTERM,)
    #: Signals tried by stop(graceful=False) before SIGKILL: a crash, no clean shutdown.
    crash_signals: ClassVar[tuple[signal.Signals, ...]] = ()
    #: Sent by the kernel when the process that started the server dies.
    parent_death_signal: ClassVar[signal.Signals] = signal.SIGKILL

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: Path | str | None = None,
        tie_to_parent: bool = True,
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self._port = port
        self._directory = Path(directory) if directory is not None else None
        self._owns_directory = directory is None
        self._tie_to_parent = tie_to_parent
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    # -- what each service defines ------------------------------------------------------

    @abc.abstractmethod
    def _prepare(self) -> None:
        """Create config and data in ``self.directory`` unless a previous start already did."""

    @abc.abstractmethod
    def _command(self) -> list[str]:
        """The argv of the server process."""

    @abc.abstractmethod
    def _is_ready(self) -> bool:
        """One quick probe: does the server answer a real request?"""

    @abc.abstractmethod
    def _extra_ports(self) -> list[int]:
        """Ports besides ``port`` that must be free before the server starts."""

    def _run_as(self) -> str | None:
        """The user the server runs as; None for the current user."""
        return None

    def _env(self) -> dict[str, str] | None:
        """Environment of the server process; None inherits ours."""
        return None

    def _after_first_ready(self) -> None:
        """Hook run once the server answers (create a database, and so on)."""
        return None

    def _state_extra(self) -> dict[str, Any]:
        """Service-specific fields for the state file."""
        return {}

    # -- public API ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port; chosen on first access when none was given."""
        if self._port is None:
            self._port = pids_and_ports.free_port()
        return self._port

    @property
    def directory(self) -> Path:
        """The service's directory; a fresh temporary one on first access when none was given."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"sla-{self.name}-"))
        return self._directory

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.directory / "logs" / "stdout.log"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (or was last seen running), else None."""
        return self._pid

    def is_running(self) -> bool:
        """True when the server process is alive (not necessarily ready)."""
        if self._process is not None:
            return self._process.poll() is None
        return self._pid is not None and pids_and_ports.pid_alive(self._pid)

    def is_ready(self) -> bool:
        """True when the server process is alive and answers a real request now."""
        return self.is_running() and self._is_ready()

    def start(self, *, wait: bool = True) -> Self:
        """Start the server and wait until it answers; a no-op when it already runs.

        ``wait=False`` returns once the process is spawned (nodes of a cluster answer only
        once a quorum of them runs); call ``wait_ready()`` then. On failure the process is
        killed, and a directory made by this call is removed.
        """
        if self.is_running():
            return self
        made_directory = self._directory is None
        try:
            self._launch()
            if wait:
                self._await_ready()
        except BaseException:
            self._kill_quietly()
            if made_directory and self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None
            raise
        return self

    def wait_ready(self) -> Self:
        """Wait until a server started with ``start(wait=False)`` answers.

        Raises ServiceStartError (after killing the process) when it does not in time.
        """
        try:
            self._await_ready()
        except BaseException:
            self._kill_quietly()
            raise
        return self

    def _launch(self) -> None:
        (self.directory / "logs").mkdir(parents=True, exist_ok=True)
        self._prepare()
        for port in [self.port, *self._extra_ports()]:
            bindable = functools.partial(pids_and_ports.port_is_bindable, port)
            if not pids_and_ports.wait_until(bindable, timeout=15):
                raise ServiceStartError(f"{self.name}: port {port} on 127.0.0.1 is in use")
        self._process = pids_and_ports.spawn(
            self._command(),
            log_path=self.log_path,
            cwd=self.directory,
            env=self._env(),
            run_as=self._run_as(),
            parent_death_signal=self.parent_death_signal if self._tied_to_parent() else None,
        )
        self._pid = self._process.pid

    def _await_ready(self) -> None:
        ready = pids_and_ports.wait_until(
            self._is_ready, timeout=self.startup_timeout, interval=0.2, abort=self._exit_reason
        )
        if not ready:
            reason = self._exit_reason() or f"not ready after {self.startup_timeout:.0f}s"
            raise ServiceStartError(
                f"{self.name} did not start ({reason}); log {self.log_path}:\n"
                f"{pids_and_ports.tail(self.log_path)}"
            )
        self._after_first_ready()

    def stop(self, *, keep_data: bool = False, graceful: bool = True) -> None:
        """Stop the server by pid (signals, then SIGKILL) and remove its directory.

        With ``keep_data=True`` the directory and port stay, so ``start()`` resumes the same
        server. ``graceful=False`` simulates a crash (``crash_signals``: no clean shutdown).
        A directory passed in by the caller is never removed. Raises ServiceStopError
        when the process cannot be killed.
        """
        if self._pid is not None:
            pids_and_ports.stop_pid(
                self._pid,
                signals=self.stop_signals if graceful else self.crash_signals,
                timeout=self.stop_timeout,
                process=self._process,
            )
        self._process = None
        self._pid = None
        if not keep_data and self._owns_directory and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def restart(self, *, graceful: bool = True) -> None:
        """Stop (or crash) the server keeping its data, then start it again on the same port."""
        self.stop(keep_data=True, graceful=graceful)
        self.start()

    def state(self) -> dict[str, Any]:
        """What a later process needs to find and stop this server (see ``attach``)."""
        return {
            "service": self.name,
            "pid": self._pid,
            "port": self.port,
            "directory": str(self.directory),
            "owns_directory": self._owns_directory,
            **self._state_extra(),
        }

    def _attach_pid(self, pid: int, *, owns_directory: bool) -> None:
        """Adopt a server started by another process; refuses a pid that is not ours."""
        if pids_and_ports.pid_alive(pid) and str(self.directory) not in pids_and_ports.pid_cmdline(
            pid
        ):
            raise ServiceStopError(f"pid {pid} is not the {self.name} server in {self.directory}")
        self._pid = pid if pids_and_ports.pid_alive(pid) else None
        self._owns_directory = owns_directory

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self._port} pid={self._pid} dir={self._directory}>"

    # -- internals -----------------------------------------------------------------------------

    def _tied_to_parent(self) -> bool:
        # The kernel signals when the spawning *thread* ends: a server started from a worker
        # thread (a fault test restarting it in the background) must not die with that thread.
        return self._tie_to_parent and threading.current_thread() is threading.main_thread()

    def _exit_reason(self) -> str | None:
        if self._process is not None and self._process.poll() is not None:
            return f"process exited with code {self._process.returncode}"
        return None

    def _kill_quietly(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ServiceStopError):
                pids_and_ports.stop_pid(self._pid, signals=(), timeout=10, process=self._process)
        self._process = None
        self._pid = None

"""Workers driven by the fault scenarios: in-process threads and ``consume`` processes."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from consumer.metrics import ConsumerMetrics
from consumer.shutdown import StopFlag
from consumer.worker import RunSummary
from infra.bootstrap import build_worker
from infra.settings import Settings
from tests.faults.helpers import QUICK_BACKOFF, SLA_PIPELINE


@dataclass
class WorkerThread:
    """An in-process worker with its own stop flag (a graceful leave on ``stop()``)."""

    settings: Settings
    engine: Engine
    until_idle_s: float | None = None
    metrics: ConsumerMetrics = field(default_factory=ConsumerMetrics)
    stop_flag: StopFlag = field(default_factory=StopFlag)
    summary: RunSummary | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> WorkerThread:
        worker = build_worker(
            self.settings,
            self.engine,
            until_idle_s=self.until_idle_s,
            metrics=self.metrics,
            stop=self.stop_flag,
            backoff=QUICK_BACKOFF,
        )

        def run() -> None:
            try:
                self.summary = worker.run()
            except BaseException as error:  # surfaced by join()
                self.error = error

        self.thread = threading.Thread(target=run, name="worker", daemon=True)
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        self.stop_flag.request("fault scenario")

    def join(self, timeout_s: float = 60.0) -> RunSummary:
        """Wait for the run to end; AssertionError if it hangs or raised."""
        assert self.thread is not None
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "worker did not stop in time"
        assert self.error is None, f"worker raised {self.error!r}"
        assert self.summary is not None
        return self.summary


_PR_SET_PDEATHSIG = 1


def _killed_with_the_test_run() -> None:
    """In the child, before exec: SIGKILL when the thread that started it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
    """A ``sla-pipeline consume`` subprocess whose stderr is read line by line.

    Started from the main thread on Linux, it is killed when the test run ends, so a
    scenario that fails before stopping its workers leaves none running (reading
    from a cluster that is gone, or from the shared broker)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        tied = sys.platform.startswith("linux") and (
            threading.current_thread() is threading.main_thread()
        )
        self._process = subprocess.Popen(
            [*SLA_PIPELINE, "consume", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_killed_with_the_test_run if tied else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def count(self, marker: str) -> int:
        return sum(marker in line for line in list(self.lines))

    def kill(self) -> None:
        """SIGKILL (no clean-up, no leave-group, no commit)."""
        if self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=30)
        self._reader.join(timeout=10)

    def wait(self, timeout_s: float) -> int:
        """Exit status; the process is killed (and AssertionError raised) on timeout."""
        try:
            code = self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("worker did not exit in time:\n" + self.output()[-3000:]) from None
        self._reader.join(timeout=10)
        return code

    def output(self) -> str:
        return "".join(self.lines)

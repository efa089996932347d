"""``pid_alive`` on real processes: a process is gone only once every thread of it is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devservices.pids_and_ports import pid_alive, wait_until

# The main thread ends at the OS level (pthread_exit) while another thread runs on:
# the state of a killed JVM whose main thread exited before its other threads.
LEADER_EXITS_FIRST = """
import ctypes, sys, threading
threading.Thread(target=sys.stdin.read).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def leader_state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_whose_main_thread_exited_is_alive_until_its_last_thread_ends() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", LEADER_EXITS_FIRST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        assert process.stdout.readline() == "ready\n"
        assert wait_until(lambda: leader_state(process.pid) == "Z", timeout=10)
        assert process.poll() is None  # its parent cannot reap it yet
        assert pid_alive(process.pid)
        process.stdin.close()  # the last thread ends
        assert wait_until(lambda: not pid_alive(process.pid), timeout=10)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_ended_unreaped_child_is_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_until(lambda: leader_state(process.pid) == "Z", timeout=10)
    assert not pid_alive(process.pid)
    process.wait(10)
    assert not pid_alive(process.pid)

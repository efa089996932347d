"""The interpreter settings of a worker run (applied only when asked for) and of the
ingest command, restored after."""

from __future__ import annotations

import gc
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cli.ingest as cli_ingest
from cli.main import cli
from consumer.batch import RawMessage
from consumer.embedded import IngestReport
from consumer.tuning import GC_THRESHOLD, SWITCH_INTERVAL_S, interpreter_tuned
from consumer.worker import Worker, WorkerConfig
from domain.codec import encode_event
from tests.support.builders import created
from tests.support.fakes import FAST, FakeSink, FakeSource, Journal, JournalingUnitOfWork
from tests.support.fakes import message as raw_message

#: Settings no test run starts with, so a leak from a run cannot go unnoticed.
BEFORE_THRESHOLD = (701, 11, 9)
BEFORE_SWITCH_S = 0.004


class RecordingSource(FakeSource):
    """Records the interpreter settings in force at each poll (during the run)."""

    def __init__(self, journal: Journal) -> None:
        batch = [raw_message(0, encode_event(created("O-1")), key=b"O-1")]
        super().__init__([batch], journal)
        self.seen: list[tuple[tuple[int, int, int], float]] = []

    def poll_batch(self, max_messages: int, timeout_s: float) -> list[RawMessage]:
        self.seen.append((gc.get_threshold(), sys.getswitchinterval()))
        return super().poll_batch(max_messages, timeout_s)


@pytest.fixture
def known_settings() -> Iterator[None]:
    threshold, switch = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(*BEFORE_THRESHOLD)
    sys.setswitchinterval(BEFORE_SWITCH_S)
    yield
    gc.set_threshold(*threshold)
    sys.setswitchinterval(switch)


def run_worker(tune: bool) -> RecordingSource:
    journal = Journal()
    source = RecordingSource(journal)
    uow = JournalingUnitOfWork(journal)
    config = WorkerConfig("g", until_idle_s=0.01, backoff=FAST, tune_interpreter=tune)
    summary = Worker(source, lambda: uow, FakeSink(journal), config).run()
    assert summary.outcome.applied == 1
    return source


@pytest.mark.usefixtures("known_settings")
def test_a_tuned_run_restores_the_settings_when_it_ends() -> None:
    source = run_worker(tune=True)
    assert source.seen and all(seen == (GC_THRESHOLD, SWITCH_INTERVAL_S) for seen in source.seen)
    assert gc.get_threshold() == BEFORE_THRESHOLD
    assert sys.getswitchinterval() == pytest.approx(BEFORE_SWITCH_S)
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("known_settings")
def test_a_run_not_asked_to_tune_changes_nothing() -> None:
    source = run_worker(tune=False)
    assert source.seen
    for threshold, switch in source.seen:
        assert threshold == BEFORE_THRESHOLD and switch == pytest.approx(BEFORE_SWITCH_S)
    assert gc.get_threshold() == BEFORE_THRESHOLD


@pytest.mark.usefixtures("known_settings")
def test_the_settings_are_restored_when_the_run_raises() -> None:
    with pytest.raises(RuntimeError), interpreter_tuned():
        raise RuntimeError("boom")
    assert gc.get_threshold() == BEFORE_THRESHOLD
    assert sys.getswitchinterval() == pytest.approx(BEFORE_SWITCH_S)


@pytest.mark.usefixtures("known_settings")
def test_the_ingest_command_runs_tuned_and_restores_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[tuple[int, int, int], float]] = []
    real_ingest = cli_ingest.ingest_events

    def recording_ingest(*args: Any, **kwargs: Any) -> IngestReport:
        seen.append((gc.get_threshold(), sys.getswitchinterval()))
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(cli_ingest, "ingest_events", recording_ingest)
    events = tmp_path / "events.jsonl"
    events.write_bytes(encode_event(created("O-1")) + b"\n")
    monkeypatch.setenv("SLA_DATABASE_URL", f"sqlite:///{tmp_path / 'sla.db'}")
    monkeypatch.chdir(tmp_path)  # where the command writes its rejects file
    result = CliRunner().invoke(cli, ["ingest", str(events)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "sla.db") as db:
        assert db.execute("SELECT COUNT(*) FROM order_history").fetchone() == (1,)
    assert seen == [(GC_THRESHOLD, SWITCH_INTERVAL_S)]
    assert gc.get_threshold() == BEFORE_THRESHOLD
    assert sys.getswitchinterval() == pytest.approx(BEFORE_SWITCH_S)

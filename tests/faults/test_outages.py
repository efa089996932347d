"""Scenarios 3 and 4, outages: PostgreSQL and then the Kafka broker are stopped in the
middle of a stream and started again. The worker retries with backoff, commits no
offset while the database is down, dead-letters nothing because of an outage, and
resumes by itself; the producer rides out the broker outage. Nothing is lost and
nothing is applied twice.

Both stop the session's shared servers (``stop(keep_data=True)`` then ``start()``);
the ``*_service`` fixtures start them again after the test whatever happens, so the
rest of the session is unaffected. With external servers these scenarios are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from consumer.fault_hook import PAUSE_BEFORE_OFFSET_COMMIT_ENV
from devservices import LocalKafka, LocalPostgres
from infra.bootstrap import migrated_engine
from infra.settings import Settings
from tests.faults.helpers import (
    Publisher,
    assert_final_database,
    check_dead_letters,
    committed,
    faulted_stream,
    fully_committed,
    history_count,
    publish,
    report_figures,
    wait_until,
)
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(360)]
ORDERS = 2000
RATES = {
    "duplicate_rate": 0.05,
    "reorder_rate": 0.10,
    "orphan_rate": 0.05,
    "malformed_rate": 0.01,
    "illegal_rate": 0.02,
}


def test_database_outage_is_retried_without_commits_or_dead_letters(
    settings_for: Callable[[str], Settings],
    pg_database_url: str,
    postgres_service: LocalPostgres | None,
    seed: int,
    tmp_path: Path,
) -> None:
    if postgres_service is None:
        pytest.skip("needs the native PostgreSQL server, to stop and start it")
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    stream = faulted_stream(ORDERS, seed, **RATES)
    half = len(stream.messages) // 2
    engine = migrated_engine(settings)
    publish(settings, stream.messages[:half])
    worker = WorkerThread(settings, engine).start()
    assert wait_until(lambda: history_count(engine) > 0, 60)

    postgres_service.stop(keep_data=True)
    outage_started = time.monotonic()
    publish(settings, stream.messages[half:])  # the stream goes on while the database is down
    time.sleep(1.5)  # a batch committed just before the stop may still commit its offsets
    frozen = committed(settings)
    for _ in range(6):  # bounded: ~6 s of outage, checked every second
        time.sleep(1.0)
        assert committed(settings) == frozen, "offsets committed while the database was down"
        assert worker.alive
    postgres_service.start()
    outage_s = time.monotonic() - outage_started

    assert wait_until(lambda: history_count(engine) == len(stream.valid_events), 90)
    assert wait_until(lambda: fully_committed(settings), 30)
    worker.stop()
    summary = worker.join()
    engine.dispose()
    retries = worker.metrics.value("sla_pipeline_retries_total", kind="database")
    assert retries > 0
    assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)
    assert letters.total == letters.distinct  # nothing dead-lettered because of the outage
    report_figures(
        "db-outage",
        orders=ORDERS,
        messages=len(stream.messages),
        outage_seconds=round(outage_s, 1),
        database_retries=int(retries),
        applied=summary.outcome.applied,
        duplicates=summary.outcome.duplicates,
        dead_letters=letters.total,
        seconds=round(time.monotonic() - started, 1),
    )


def test_broker_outage_loses_nothing_and_applies_nothing_twice(
    settings_for: Callable[[str], Settings],
    pg_database_url: str,
    kafka_service: LocalKafka | None,
    seed: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if kafka_service is None:
        pytest.skip("needs the native Kafka broker, to stop and start it")
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    stream = faulted_stream(ORDERS, seed, **RATES)
    third = len(stream.messages) // 3
    engine = migrated_engine(settings)
    publisher = Publisher(settings)
    publisher.send(stream.messages[:third])
    publisher.drain()
    # slow the worker down so the broker goes away with batches still in hand
    monkeypatch.setenv(PAUSE_BEFORE_OFFSET_COMMIT_ENV, "0.3")
    worker = WorkerThread(settings, engine).start()
    assert wait_until(lambda: history_count(engine) > 0, 60)

    kafka_service.stop(keep_data=True)
    outage_started = time.monotonic()
    publisher.send(stream.messages[third : 2 * third])  # queued by the producer meanwhile
    # the worker is now waiting in an offset commit (librdkafka holds a synchronous
    # commit until the coordinator is back) or retrying with backoff
    time.sleep(5)
    assert worker.alive
    kafka_service.start()
    outage_s = time.monotonic() - outage_started
    publisher.send(stream.messages[2 * third :])
    publisher.drain()

    # generous: the worker still pauses before every offset commit, and a loaded machine
    # takes a while to bring the restarted broker's topics back to the dead-letter producer
    assert wait_until(lambda: history_count(engine) == len(stream.valid_events), 240)
    assert wait_until(lambda: fully_committed(settings), 60)
    worker.stop()
    summary = worker.join()
    engine.dispose()
    assert_final_database(pg_database_url, stream, tmp_path / "o.db")
    letters = check_dead_letters(settings, stream)
    report_figures(
        "broker-outage",
        orders=ORDERS,
        messages=len(stream.messages),
        outage_seconds=round(outage_s, 1),
        broker_retries=int(worker.metrics.value("sla_pipeline_retries_total", kind="broker")),
        applied=summary.outcome.applied,
        duplicates=summary.outcome.duplicates,
        dead_letters=letters.distinct,
        dead_letter_messages=letters.total,
        seconds=round(time.monotonic() - started, 1),
    )

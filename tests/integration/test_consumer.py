"""The worker against real Kafka and PostgreSQL: apply, dead-letter, commit, survive outages."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from consumer.metrics import ConsumerMetrics
from consumer.worker import RunSummary
from infra.bootstrap import build_worker, migrated_engine
from infra.db.engine import make_engine
from infra.db.snapshot import describe_differences, snapshot
from infra.settings import Settings
from producer.faults import FaultedStream
from tests.support.cli import SLA_PIPELINE
from tests.support.pipeline import (
    NO_RETENTION,
    committed,
    dead_letter_pairs,
    ends,
    expected_dead_letters,
    faulted_stream,
    oracle_snapshot,
    publish,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@dataclass
class Pipeline:
    settings: Settings
    stream: FaultedStream


@pytest.fixture
def pipeline_settings(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str
) -> Callable[[str], Settings]:
    created = topic_factory("order-created", partitions=3, config=NO_RETENTION)
    changed = topic_factory("status-changed", partitions=3, config=NO_RETENTION)
    dlq = topic_factory("dlq", partitions=1, config=NO_RETENTION)

    def make(database_url: str) -> Settings:
        return Settings(
            database_url=database_url,  # type: ignore[arg-type]
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_order_created=created,
            topic_status_changed=changed,
            topic_dlq=dlq,
            consumer_group=group_id,
            batch_size=500,
            batch_wait_s=0.2,
        )

    return make


def run_worker(
    settings: Settings, engine: Engine, **kw: object
) -> tuple[RunSummary, ConsumerMetrics]:
    metrics = ConsumerMetrics()
    worker = build_worker(settings, engine, metrics=metrics, **kw)  # type: ignore[arg-type]
    return worker.run(), metrics


def test_worker_applies_valid_events_and_dead_letters_the_rest(
    pipeline_settings: Callable[[str], Settings],
    pg_database_url: str,
    kafka_bootstrap: str,
    tmp_path: object,
) -> None:
    settings = pipeline_settings(pg_database_url)
    stream = faulted_stream(150, seed=11)
    publish(kafka_bootstrap, settings, stream)
    engine = migrated_engine(settings)
    summary, metrics = run_worker(settings, engine, until_idle_s=4.0)
    assert summary.consumed == len(stream.messages)
    with engine.connect() as conn:
        got = snapshot(conn)
    assert describe_differences(oracle_snapshot(stream, f"{tmp_path}/oracle.db"), got) == []
    assert dead_letter_pairs(settings) == expected_dead_letters(stream)
    topics = list(settings.topics)
    assert committed(kafka_bootstrap, settings.consumer_group, topics, 3) == ends(
        kafka_bootstrap, topics, 3
    )
    with engine.connect() as conn:
        recorded = dict(
            ((t, p), o)
            for t, p, o in conn.execute(
                # a claimed partition with nothing applied yet is recorded at offset 0
                text(
                    "SELECT topic, partition, next_offset FROM consumer_offsets"
                    " WHERE next_offset > 0"
                )
            )
        )
    assert recorded == {k: v for k, v in ends(kafka_bootstrap, topics, 3).items() if v > 0}
    assert metrics.value("sla_pipeline_events_consumed_total") == len(stream.messages)
    assert metrics.value("sla_pipeline_events_applied_total") == len(stream.valid_events)
    assert metrics.value("sla_pipeline_events_illegal_total") > 0
    engine.dispose()


def test_database_outage_is_retried_and_nothing_is_committed_meanwhile(
    pipeline_settings: Callable[[str], Settings],
    pg_database_url: str,
    kafka_bootstrap: str,
    postgres_service: object,
) -> None:
    if postgres_service is None:
        pytest.skip("needs a native PostgreSQL this test can stop")
    settings = pipeline_settings(pg_database_url)
    stream = faulted_stream(40, seed=5)
    engine = migrated_engine(settings)
    postgres_service.stop(keep_data=True)  # type: ignore[attr-defined]
    publish(kafka_bootstrap, settings, stream)
    result: list[tuple[RunSummary, ConsumerMetrics]] = []
    thread = threading.Thread(
        target=lambda: result.append(run_worker(settings, engine, until_idle_s=5.0))
    )
    thread.start()
    time.sleep(6)
    topics = list(settings.topics)
    assert all(
        o < 0 for o in committed(kafka_bootstrap, settings.consumer_group, topics, 3).values()
    )
    postgres_service.start()  # type: ignore[attr-defined]
    thread.join(timeout=120)
    assert not thread.is_alive()
    _summary, metrics = result[0]
    assert metrics.value("sla_pipeline_retries_total", kind="database") > 0
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM order_history")).scalar_one()
    assert events == len(stream.valid_events)
    assert dead_letter_pairs(settings) == expected_dead_letters(stream)  # none for the outage
    engine.dispose()


def test_sigterm_finishes_the_batch_commits_and_leaves(
    pipeline_settings: Callable[[str], Settings], sqlite_url: str, kafka_bootstrap: str
) -> None:
    settings = pipeline_settings(sqlite_url)
    stream = faulted_stream(300, seed=3)
    publish(kafka_bootstrap, settings, stream)
    env = {
        **os.environ,
        "SLA_DATABASE_URL": sqlite_url,
        "SLA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SLA_TOPIC_ORDER_CREATED": settings.topic_order_created,
        "SLA_TOPIC_STATUS_CHANGED": settings.topic_status_changed,
        "SLA_TOPIC_DLQ": settings.topic_dlq,
        "SLA_CONSUMER_GROUP": settings.consumer_group,
        "SLA_BATCH_SIZE": "100",
    }
    process = subprocess.Popen(
        [*SLA_PIPELINE, "consume"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    engine = make_engine(sqlite_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                with engine.connect() as conn:
                    if conn.execute(text("SELECT count(*) FROM order_history")).scalar_one() > 0:
                        break
            except Exception:  # the worker may not have migrated yet
                continue
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"consumed" in out
    topics = list(settings.topics)
    kafka = {
        k: v
        for k, v in committed(kafka_bootstrap, settings.consumer_group, topics, 3).items()
        if v >= 0
    }
    with engine.connect() as conn:
        recorded = dict(
            ((t, p), o)
            for t, p, o in conn.execute(
                # a claimed partition with nothing applied yet is recorded at offset 0
                text(
                    "SELECT topic, partition, next_offset FROM consumer_offsets"
                    " WHERE next_offset > 0"
                )
            )
        )
    assert kafka == recorded  # the last batch was committed to both before leaving
    engine.dispose()

"""`sla-pipeline consume --metrics-port`: Prometheus text scraped from a running worker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping

import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from domain.codec import RejectReason
from infra.db.engine import make_engine
from infra.settings import Settings
from producer.faults import FaultConfig, FaultedStream, inject_faults
from producer.simulation import SimulationConfig, simulate
from tests.support.cli import SLA_PIPELINE
from tests.support.pipeline import NO_RETENTION, committed, ends, publish, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

P = "sla_pipeline_"
#: The agreed metric names and their Prometheus types (docs/consumer.md).
AGREED = {
    **{
        f"{P}events_{what}_total": "counter"
        for what in ("consumed", "applied", "duplicate", "stale", "illegal", "orphaned")
    },
    f"{P}events_dead_lettered_total": "counter",
    f"{P}retries_total": "counter",
    f"{P}batch_size": "histogram",
    f"{P}batch_duration_seconds": "histogram",
    f"{P}consumer_lag": "gauge",
    f"{P}event_freshness_seconds": "gauge",
}
SERVING = re.compile(r"serving Prometheus metrics on (http://127\.0\.0\.1:\d+/metrics)")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class WorkerProcess:
    """`sla-pipeline consume ...` in a subprocess; stderr is collected by a thread."""

    def __init__(self, env: Mapping[str, str], *args: str) -> None:
        self.err: list[str] = []
        self.process = subprocess.Popen(
            [*SLA_PIPELINE, "consume", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.err.append(line)

    def metrics_url(self, timeout_s: float = 30) -> str:
        """The /metrics address the worker logged (it was started with --metrics-port 0)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            for line in list(self.err):
                if found := SERVING.search(line):
                    return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no metrics address logged: {''.join(self.err)}")

    def finish(self, timeout_s: float = 60) -> tuple[int, str, str]:
        """Wait for the exit; (exit code, stdout, stderr). Kills it if it hangs."""
        try:
            self.process.wait(timeout_s)  # stdout holds one summary line: no pipe to fill
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        self.process.stdout.close()
        return self.process.returncode, out, "".join(self.err)


def scrape(url: str) -> tuple[str, Samples]:
    """The exposition text and its samples, parsed by prometheus_client's own parser."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body: str = response.read().decode()
    samples: Samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    return body, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return {**inherited, **settings_env(settings, **{"SLA_BATCH_WAIT_S": "0.2", **extra})}


def make_settings(
    database_url: str, kafka_bootstrap: str, topic_factory: Callable[..., str], group: str
) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_order_created=topic_factory("order-created", partitions=2, config=NO_RETENTION),
        topic_status_changed=topic_factory("status-changed", partitions=2, config=NO_RETENTION),
        topic_dlq=topic_factory("dlq", config=NO_RETENTION),
        consumer_group=group,
    )


def faulted(orders: int, seed: int) -> FaultedStream:
    faults = FaultConfig(
        duplicate_rate=0.1,
        reorder_rate=0.1,
        orphan_rate=0.1,
        malformed_rate=0.08,
        illegal_rate=0.05,
        oversized_rate=0.02,
    )
    return inject_faults(simulate(SimulationConfig(orders=orders, seed=seed)), faults, seed)


def group_state(bootstrap: str, group: str) -> tuple[ConsumerGroupState, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group], request_timeout=30)[group].result(30)
    return description.state, len(description.members)


def test_scraped_counters_match_what_was_published(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, pg_database_url: str
) -> None:
    settings = make_settings(pg_database_url, kafka_bootstrap, topic_factory, group_id)
    stream = faulted(40, seed=3)
    dead = Counter(m.expected_reason.value for m in stream.malformed if m.expected_reason)
    assert len(dead) >= 3 and sum(dead.values()) == len(stream.malformed)
    published = len(stream.messages)
    duplicates = published - len(stream.malformed) - len(stream.valid_events)
    assert duplicates > 0
    env = worker_env(settings, SLA_BATCH_SIZE="50")
    worker = WorkerProcess(env, "--metrics-port", "0", "--until-idle", "60")
    try:
        url = worker.metrics_url()
        body, samples = scrape(url)  # before anything is published
        for name, kind in AGREED.items():
            assert f"# TYPE {name} {kind}\n" in body, name
        assert value(samples, f"{P}events_consumed_total") == 0
        for reason in RejectReason:  # every reason is a series from the start, at 0
            assert value(samples, f"{P}events_dead_lettered_total", reason=reason.value) == 0
        for kind in ("database", "broker"):
            assert value(samples, f"{P}retries_total", kind=kind) == 0

        publish(kafka_bootstrap, settings, stream)
        expected = {
            f"{P}events_consumed_total": published,
            f"{P}events_applied_total": len(stream.valid_events),
            f"{P}events_duplicate_total": duplicates,
        }

        def counts(samples: Samples) -> dict[str, float]:
            got = {name: value(samples, name) for name in expected}
            got[f"{P}batch_size_sum"] = value(samples, f"{P}batch_size_sum")
            return got

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.process.poll() is None:
            _body, samples = scrape(url)
            if counts(samples) == {**expected, f"{P}batch_size_sum": published}:
                break
            time.sleep(0.2)
        assert counts(samples) == {**expected, f"{P}batch_size_sum": published}
        time.sleep(1.0)  # settled: nothing counted twice, nothing counted late
        _body, samples = scrape(url)
        assert counts(samples) == {**expected, f"{P}batch_size_sum": published}
        for reason in RejectReason:
            assert value(
                samples, f"{P}events_dead_lettered_total", reason=reason.value
            ) == dead.get(reason.value, 0), reason
        assert value(samples, f"{P}retries_total", kind="database") == 0
        batches = value(samples, f"{P}batch_size_count")
        assert published / 50 <= batches == value(samples, f"{P}batch_duration_seconds_count")
        assert value(samples, f"{P}events_illegal_total") > 0
        assert value(samples, f"{P}events_orphaned_total") > 0
        assert value(samples, f"{P}event_freshness_seconds") > 0  # simulated times are past
        topics = list(settings.topics)
        lag = {
            (dict(labels)["topic"], int(dict(labels)["partition"])): v
            for (name, labels), v in samples.items()
            if name == f"{P}consumer_lag"
        }
        assert lag == {(t, p): 0 for t in topics for p in range(2)}
        assert group_state(kafka_bootstrap, group_id)[1] == 1
    finally:
        worker.process.send_signal(signal.SIGTERM)
        code, out, err = worker.finish()
    assert code == 0, err
    assert "Traceback" not in err
    assert f"consumed {published} messages" in out and "(stop requested)" in out
    state, members = group_state(kafka_bootstrap, group_id)
    assert (state, members) == (ConsumerGroupState.EMPTY, 0)  # it left the group
    assert committed(kafka_bootstrap, group_id, topics, 2) == ends(kafka_bootstrap, topics, 2)
    engine = make_engine(settings.database_url_value())
    with engine.connect() as conn:
        history = conn.execute(text("SELECT count(*) FROM order_history")).scalar_one()
    engine.dispose()
    assert history == len(stream.valid_events)


def test_max_events_bounds_the_run(
    kafka_bootstrap: str, topic_factory: Callable[..., str], group_id: str, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, kafka_bootstrap, topic_factory, group_id)
    stream = faulted(10, seed=4)
    publish(kafka_bootstrap, settings, stream)
    bound = len(stream.messages) // 2
    worker = WorkerProcess(
        worker_env(settings, SLA_BATCH_SIZE="7"),
        *("--metrics-port", "0", "--max-events", str(bound), "--until-idle", "60"),
    )
    worker.metrics_url()
    code, out, err = worker.finish()
    assert code == 0, err
    assert f"consumed {bound} messages" in out and f"(max events {bound})" in out
    topics = list(settings.topics)
    offsets = committed(kafka_bootstrap, group_id, topics, 2)
    assert sum(max(0, o) for o in offsets.values()) == bound  # exactly N read and committed
    assert group_state(kafka_bootstrap, group_id) == (ConsumerGroupState.EMPTY, 0)


def test_bad_metrics_port_fails_in_one_line(sqlite_url: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLA_")},
        "SLA_DATABASE_URL": sqlite_url,
        "SLA_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # never reached: it fails before
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = WorkerProcess(env, "--metrics-port", str(port)).finish(30)
    assert code == 1 and out == ""
    assert err.startswith(f"error: cannot serve metrics on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1, err
    code, _, err = WorkerProcess(env, "--metrics-port", "70000").finish(30)
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [
        "Error: Invalid value for '--metrics-port': 70000 is not in the range 0<=x<=65535."
    ]

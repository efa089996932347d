"""Prometheus metrics of the consumer, all named ``sla_pipeline_*`` (the Grafana
dashboard ``monitoring/grafana/dashboards/sla.json`` queries them by name).

Metrics live in a registry passed in (one per worker), so several workers or
tests in one process never collide; ``serve()`` exposes it over HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from consumer.batch import BatchOutcome
from domain.codec import RejectReason

_P = "sla_pipeline_"
_BATCH_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
_DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: ``kind`` of ``InfrastructureError``: the label values of the retry counter.
RETRY_KINDS = ("database", "broker")
#: label values of the gauge of orders in an alert-worthy SLA state
ALERTING_STATES = ("at_risk", "breached")


class ConsumerMetrics:
    """Counters, histograms and gauges of one worker (or one ingest run)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter(_P + "events_consumed", "Messages read.", registry=r)
        self.applied = Counter(_P + "events_applied", "Events new to history.", registry=r)
        self.duplicate = Counter(_P + "events_duplicate", "Events already applied.", registry=r)
        self.stale = Counter(
            _P + "events_stale", "Events older than their order's current status.", registry=r
        )
        self.illegal = Counter(_P + "events_illegal", "Events judged illegal moves.", registry=r)
        self.orphaned = Counter(
            _P + "events_orphaned", "Status changes before their order's creation.", registry=r
        )
        self.dead_lettered = Counter(
            _P + "events_dead_lettered", "Messages sent to the DLQ.", ["reason"], registry=r
        )
        self.retries = Counter(_P + "retries", "Retried outages.", ["kind"], registry=r)
        self.conflicting = Counter(
            _P + "events_conflicting",
            "Events whose event_id was taken by other content (dead-lettered).",
            registry=r,
        )
        self.fenced = Counter(
            _P + "batches_fenced",
            "Batches rolled back because their partitions had a new owner.",
            registry=r,
        )
        self.batch_size = Histogram(
            _P + "batch_size", "Messages per batch.", buckets=_BATCH_SIZES, registry=r
        )
        self.batch_duration = Histogram(
            _P + "batch_duration_seconds",
            "Decode, dead-letter, apply and commit time per batch.",
            buckets=_DURATIONS,
            registry=r,
        )
        self.lag = Gauge(
            _P + "consumer_lag",
            "Messages behind the high watermark.",
            ["topic", "partition"],
            registry=r,
        )
        self.freshness = Gauge(
            _P + "event_freshness_seconds",
            "Wall clock minus the newest event time applied.",
            registry=r,
        )
        self.alerts_published = Counter(
            _P + "sla_alerts_published",
            "SLA alerts confirmed by the broker (a replayed alert counts again).",
            registry=r,
        )
        self.orders_alerting = Gauge(
            _P + "orders_alerting",
            "Orders last announced at_risk or breached (the whole database: take max, not sum, "
            "over workers).",
            ["state"],
            registry=r,
        )
        for state in ALERTING_STATES:
            self.orders_alerting.labels(state=state)
        # Every known label value is exported from the start at 0: a series that first
        # appears at 1 is invisible to rate()/increase(), so the first dead letter or
        # retry after a start would not show on the dashboards or alerts.
        for reason in RejectReason:
            self.dead_lettered.labels(reason=reason.value)
        for kind in RETRY_KINDS:
            self.retries.labels(kind=kind)
        self._lag_labels: set[tuple[str, str]] = set()

    def record_outcome(self, outcome: BatchOutcome) -> None:
        self.applied.inc(outcome.applied)
        self.duplicate.inc(outcome.duplicates)
        self.stale.inc(outcome.stale)
        self.illegal.inc(outcome.illegal)
        self.orphaned.inc(outcome.orphaned)
        self.conflicting.inc(outcome.conflicting)

    def record_alerts_published(self, count: int) -> None:
        self.alerts_published.inc(count)

    def record_orders_alerting(self, counts: Mapping[str, int]) -> None:
        for state in ALERTING_STATES:
            self.orders_alerting.labels(state=state).set(counts.get(state, 0))

    def record_batch(self, size: int, duration_s: float) -> None:
        self.consumed.inc(size)
        self.batch_size.observe(size)
        self.batch_duration.observe(duration_s)

    def record_dead_letter(self, reason: str) -> None:
        self.dead_lettered.labels(reason=reason).inc()

    def record_fenced(self) -> None:
        self.fenced.inc()

    def record_retry(self, kind: str) -> None:
        self.retries.labels(kind=kind).inc()

    def record_freshness(self, newest_event_at: datetime) -> None:
        self.freshness.set((datetime.now(UTC) - newest_event_at).total_seconds())

    def record_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Set lag per partition; partitions no longer reported are dropped."""
        labels = {(topic, str(partition)) for topic, partition in lag}
        for stale in self._lag_labels - labels:
            self.lag.remove(*stale)
        for (topic, partition), value in lag.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(value)
        self._lag_labels = labels

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample, e.g. ``value("sla_pipeline_events_applied_total")``."""
        found = self.registry.get_sample_value(name, labels)
        return float(found or 0.0)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Expose ``/metrics`` on ``addr:port`` (daemon thread); returns the bound port
        (the one picked when ``port`` is 0).

        Raises ``OSError`` if the port is taken or the address cannot be bound.
        """
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)

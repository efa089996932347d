"""SLA alerts of the worker: recorded with the batch, published after it commits.

An alert is decided in the transaction that changes what it is about and queued
there (an outbox), beside the order's announced state. It is published only after
that transaction has committed and removed from the queue once the broker has
confirmed it, so a crash in between publishes it again rather than losing it; the
deterministic alert id makes the second copy the same record.

Two sources: a batch evaluates the orders it touched as of its newest event time
(event time, never the wall clock); a sweep evaluates the open orders as of the
wall clock, for deadlines crossed while no event arrives. An order is never
evaluated at an instant earlier than the one it was last announced at, so the two
sources cannot make it flap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from consumer.apply import PreparedEvents
from consumer.batch import BatchOutcome
from consumer.metrics import ConsumerMetrics
from consumer.ports import AlertChange, AlertRepository, AlertSink, AlertSubject, UnitOfWork
from domain.alerts import next_alert
from domain.sla import SlaPolicy, evaluate

log = logging.getLogger(__name__)

#: alerts read from the queue per publish
PUBLISH_CHUNK = 500
#: seconds between asks whether the alert topic exists, while the broker does not answer
TOPIC_CHECK_S = 5.0


def decide(
    subjects: Iterable[AlertSubject],
    policy: SlaPolicy,
    as_of: datetime,
    *,
    by_event: bool,
) -> list[AlertChange]:
    """The alerts due for ``subjects`` evaluated at ``as_of`` (or later: an order's
    latest event time or last announcement when later); ``by_event``: an event
    caused the evaluation."""
    changes: list[AlertChange] = []
    for subject in subjects:
        # never before the order's latest event (all it is known to have reached) nor
        # before its last announcement: a late old event cannot move it back in time
        at = max(as_of, subject.latest_event_at)
        if subject.last is not None:
            at = max(at, subject.last.as_of)
        try:
            sla = evaluate(subject.order, policy, at)
        except KeyError:  # a tier without policy and no explicit promise: no deadline
            continue
        if sla is None:
            continue
        caused = subject.latest_event_at if by_event else None
        due = next_alert(
            subject.order, sla, policy, subject.last, as_of=at, caused_by_event_at=caused
        )
        if due is not None:
            changes.append(AlertChange(due[0], subject.last, due[1]))
    changes.sort(key=lambda change: change.alert.order_id)  # one lock order for all writers
    return changes


class AlertDesk:
    """Decides, queues and publishes the SLA alerts of one worker.

    ``repository_of`` gives the alert repository of an open unit of work;
    ``sweep_every_s`` (``None``: no sweep) is the wall-clock period of the sweep.
    Methods other than :meth:`in_batch` run their own transactions and raise
    ``InfrastructureError`` on an outage (nothing is lost: the queue keeps the alerts).
    """

    def __init__(
        self,
        repository_of: Callable[[UnitOfWork], AlertRepository],
        unit_of_work: Callable[[], UnitOfWork],
        sink: AlertSink,
        *,
        sweep_every_s: float | None = None,
        metrics: ConsumerMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository_of = repository_of
        self._unit_of_work = unit_of_work
        self._sink = sink
        self._sweep_every_s = sweep_every_s
        self.metrics = metrics or ConsumerMetrics()
        self._clock = clock
        self._next_tend = 0.0  # monotonic
        #: whether the alert topic exists (``None``: not known yet, asked at each tend)
        self._topic: bool | None = None

    @property
    def publishing(self) -> bool:
        """Whether alerts are published (the alert topic is known to exist)."""
        return self._topic is True

    def in_batch(self, uow: UnitOfWork, prepared: PreparedEvents, _outcome: BatchOutcome) -> int:
        """``consumer.apply.AfterApply``: queue the alerts of the orders the batch touched,
        evaluated as of its newest event time, in its transaction (also while it is not
        known yet whether the alert topic exists: they wait in the queue)."""
        if self._topic is False:
            return 0
        repository = self._repository_of(uow)
        newest = max(received.event.occurred_at for received in prepared.unique.values())
        subjects = repository.read_subjects(prepared.by_order.keys())
        changes = decide(subjects, repository.read_policy(), newest, by_event=True)
        return len(repository.record(changes)) if changes else 0

    def tend_due(self) -> bool:
        """Whether :meth:`tend` should run now: at start-up, then every sweep period
        (every ``TOPIC_CHECK_S`` while the alert topic's existence is not known)."""
        if self._topic is False:
            return False
        return time.monotonic() >= self._next_tend

    def tend(self) -> int:
        """Sweep (when enabled) and publish what is queued; returns alerts published.

        The first run also publishes what a worker that crashed had queued. When the
        broker says the alert topic does not exist, alerts are turned off (with a
        warning) rather than stall the worker on a topic that will not appear by itself.
        """
        if self._topic is None:
            self._topic = self._sink.topic_exists()
            if self._topic is None:  # the broker did not answer: ask again later
                self._next_tend = time.monotonic() + TOPIC_CHECK_S
                return 0
            if not self._topic:
                log.warning(
                    "SLA alerts are off: the alert topic does not exist "
                    "(sla-pipeline topics create makes it)"
                )
                return 0
        if self._sweep_every_s is not None:
            self.sweep()
        published = self.publish_pending()
        self.refresh_gauge()  # other workers move it too
        wait = self._sweep_every_s if self._sweep_every_s is not None else float("inf")
        self._next_tend = time.monotonic() + wait
        return published

    def sweep(self) -> int:
        """Queue the alerts of open orders crossing a threshold as of the wall clock."""
        now = self._clock()
        with self._unit_of_work() as uow:
            repository = self._repository_of(uow)
            subjects = repository.read_open_subjects()
            changes = decide(subjects, repository.read_policy(), now, by_event=False)
            queued = repository.record(changes) if changes else []
            uow.commit()
        if queued:
            log.info("SLA sweep as of %s: %d alerts", now.isoformat(), len(queued))
        return len(queued)

    def publish_pending(self) -> int:
        """Publish every queued alert, then remove it from the queue (nothing while the
        alert topic is not known to exist)."""
        if not self.publishing:
            return 0
        published = 0
        while True:
            with self._unit_of_work() as uow:
                alerts = self._repository_of(uow).pending(PUBLISH_CHUNK)
            if not alerts:
                break
            self._sink.publish(alerts)
            with self._unit_of_work() as uow:
                self._repository_of(uow).forget([str(alert.alert_id) for alert in alerts])
                uow.commit()
            published += len(alerts)
            self.metrics.record_alerts_published(len(alerts))
            for alert in alerts:  # a replay of old data can announce thousands
                log.debug(
                    "SLA alert %s: order %s %s -> %s (%s)",
                    alert.alert_id,
                    alert.order_id,
                    alert.previous_state.value if alert.previous_state else "-",
                    alert.state.value,
                    alert.reason.value,
                )
            if len(alerts) < PUBLISH_CHUNK:
                break
        if published:
            log.info("published %d SLA alerts", published)
            self.refresh_gauge()
        return published

    def refresh_gauge(self) -> None:
        """Set the gauge of orders last announced at risk or breached."""
        with self._unit_of_work() as uow:
            counts = self._repository_of(uow).count_alerting()
        self.metrics.record_orders_alerting({state.value: n for state, n in counts.items()})

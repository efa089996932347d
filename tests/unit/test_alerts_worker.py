"""Where SLA alerts sit in the batch loop: decided in the batch's transaction,
published after it commits and before the offsets are; a crash's queue is
published at the next start; no topic, no alerts (and no stall)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from consumer.alerts import AlertDesk
from consumer.ports import AlertChange, AlertSubject, UnitOfWork
from consumer.worker import Worker, WorkerConfig
from domain.alerts import SlaAlert
from domain.codec import encode_event
from domain.events import ShippingTier
from domain.sla import DEFAULT_POLICY, SlaInput, SlaPolicy, SlaState
from tests.support.builders import T0, created
from tests.support.fakes import FAST, FakeSink, FakeSource, Journal, JournalingUnitOfWork, message


class QueueRepository:
    """Every order read is one created ten days before the batch: breached."""

    def __init__(self, journal: Journal, queue: list[SlaAlert]) -> None:
        self.journal, self.queue = journal, queue

    def read_policy(self) -> SlaPolicy:
        return DEFAULT_POLICY

    def read_subjects(self, order_ids: Collection[str]) -> list[AlertSubject]:
        made = T0 - timedelta(days=10)
        return [
            AlertSubject(SlaInput(o, made, ShippingTier.STANDARD), made, None) for o in order_ids
        ]

    def read_open_subjects(self) -> list[AlertSubject]:
        return []

    def record(self, changes: Sequence[AlertChange]) -> list[SlaAlert]:
        self.journal.append("alert-queued")
        self.queue.extend(change.alert for change in changes)
        return [change.alert for change in changes]

    def pending(self, limit: int) -> list[SlaAlert]:
        return self.queue[:limit]

    def forget(self, alert_ids: Collection[str]) -> None:
        self.queue[:] = [a for a in self.queue if str(a.alert_id) not in alert_ids]

    def count_alerting(self) -> dict[SlaState, int]:
        return {}


class AlertTopic:
    def __init__(self, journal: Journal, exists: bool | None = True) -> None:
        self.journal, self.exists, self.alerts = journal, exists, list[SlaAlert]()

    def topic_exists(self) -> bool | None:
        return self.exists

    def publish(self, alerts: Sequence[SlaAlert]) -> None:
        self.journal.append("alerts-published")
        self.alerts.extend(alerts)


def run_worker(
    queue: list[SlaAlert], exists: bool | None = True
) -> tuple[Journal, AlertTopic, list[SlaAlert]]:
    journal = Journal()
    source = FakeSource([[message(0, encode_event(created()))]], journal)
    uow = JournalingUnitOfWork(journal)
    topic = AlertTopic(journal, exists)
    repository = QueueRepository(journal, queue)

    def repository_of(_: UnitOfWork) -> QueueRepository:
        return repository

    desk = AlertDesk(repository_of, lambda: uow, topic)
    config = WorkerConfig(consumer_group="g", until_idle_s=0.01, backoff=FAST)
    Worker(source, lambda: uow, FakeSink(journal), config, alerts=desk).run()
    return journal, topic, queue


def test_alerts_are_queued_in_the_transaction_and_published_before_the_offsets() -> None:
    journal, topic, queue = run_worker([])
    # the second database commit removes the confirmed alerts from the queue
    assert journal == ["alert-queued", "db-commit", "alerts-published", "db-commit", "commit"]
    assert [(a.order_id, a.state) for a in topic.alerts] == [("ORD-1", SlaState.BREACHED)]
    assert queue == []  # confirmed, so no longer queued


def test_a_crashed_workers_queue_is_published_at_start() -> None:
    _, earlier, _ = run_worker([])
    journal, topic, _ = run_worker(list(earlier.alerts))
    assert journal[0] == "alerts-published"  # before anything is read
    assert topic.alerts[0] == earlier.alerts[0]


def test_no_alert_topic_no_alerts_and_the_batch_goes_on() -> None:
    journal, topic, queue = run_worker([], exists=False)
    assert journal == ["db-commit", "commit"]
    assert topic.alerts == [] and queue == []


def test_an_unanswered_topic_check_keeps_alerts_queued() -> None:
    journal, topic, queue = run_worker([], exists=None)
    assert journal == ["alert-queued", "db-commit", "commit"]
    assert topic.alerts == [] and len(queue) == 1

"""Scenario: hostile bytes from a foreign producer, generated, on real Kafka.

Hypothesis bends distinct simulated events one place each (``hostile_messages``) and
adds two values around the broker's 1 MB limit; they are produced straight to a
worker's topics and one real worker consumes them until it has been idle for a few
seconds. It must never stop on its own, the group's lag must return to 0, and every
sent offset must be accounted for exactly once: dead-lettered with a non-empty
reason, or applied (its ``event_id`` is in ``order_history``; a duplicate of an
applied event counts as applied). Shapes only a broken worker would accept are
checked to be dead-lettered (duplicate JSON keys and any ``schema_version`` but the
integer 1 among them); distinct valid events to be applied. Extreme times may be valid
or out of range, and of an id reused with other content one version is kept and the
others dead-lettered, whichever partition is read first: for those shapes "applied or
dead-lettered" is asserted.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from confluent_kafka import KafkaError, Message, Producer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from consumer.batch import SourcePosition
from infra.bootstrap import migrated_engine
from infra.kafka.admin import EVENT_TOPIC_CONFIG
from infra.kafka.dead_letters import read_dead_letters
from infra.settings import Settings
from producer.simulation import SimulationConfig, simulate
from tests.faults.helpers import (
    NO_RETENTION,
    PARTITIONS,
    fresh_database,
    fully_committed,
    report_figures,
)
from tests.faults.hostile_messages import MUST_REJECT, Hostile, hostile_message, huge_message
from tests.faults.workers import WorkerThread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]
EXAMPLES = 2
IDLE_S = 3.0
BROKER_DEFAULT_LIMIT = 1_048_588  # Kafka's default message.max.bytes


@st.composite
def hostile_batches(draw: st.DrawFn) -> list[Hostile]:
    """150-300 hostile messages plus two values around the broker's limit."""
    events = list(simulate(SimulationConfig(orders=60, seed=draw(st.integers(1, 10**6)))))
    count = draw(st.integers(150, min(300, len(events) - 2)))
    sent: list[Hostile] = []
    for event in events[:count]:
        sent.append(draw(hostile_message(event, sent)))
    for event, size in zip(events[count:], (1_000_100, BROKER_DEFAULT_LIMIT - 300), strict=False):
        sent.insert(draw(st.integers(0, len(sent))), huge_message(event, size))
    return sent


def produce(
    bootstrap: str, settings: Settings, sent: list[Hostile]
) -> dict[SourcePosition, Hostile]:
    """Produce ``sent``; each message by the position the broker gave it."""
    topics = {
        "order-created": settings.topic_order_created,
        "status-changed": settings.topic_status_changed,
    }
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000})
    placed: dict[SourcePosition, Hostile] = {}
    errors: list[str] = []

    def delivered(hostile: Hostile, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            errors.append(f"{hostile.shape}: {error}")
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        placed[SourcePosition(topic, partition, offset)] = hostile

    for hostile in sent:
        producer.produce(
            topics[hostile.topic_kind],
            key=hostile.key,
            value=hostile.value,
            headers=list(hostile.headers),
            on_delivery=functools.partial(delivered, hostile),
        )
        producer.poll(0)
    assert producer.flush(60) == 0 and not errors, errors
    assert len(placed) == len(sent)
    return placed


def test_hostile_messages_are_applied_or_dead_lettered_and_never_stop_the_worker(
    kafka_bootstrap: str, topic_factory: Callable[..., str], postgres_url: str, seed: int
) -> None:
    started = time.monotonic()
    figures: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # shrinking would re-run a worker per attempt
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sent=hostile_batches())
    def run(sent: list[Hostile]) -> None:
        topic_config = {**EVENT_TOPIC_CONFIG, **NO_RETENTION}
        with fresh_database(postgres_url, "hostile") as database_url:
            pipeline = Settings(
                database_url=database_url,
                kafka_bootstrap_servers=kafka_bootstrap,
                topic_order_created=topic_factory(
                    "order-created", partitions=PARTITIONS, config=topic_config
                ),
                topic_status_changed=topic_factory(
                    "status-changed", partitions=PARTITIONS, config=topic_config
                ),
                topic_dlq=topic_factory("dlq", partitions=1, config=NO_RETENTION),
                consumer_group=f"hostile-{uuid.uuid4().hex[:12]}",
                batch_size=100,
                batch_wait_s=0.2,
            )
            check(pipeline, produce(kafka_bootstrap, pipeline, sent), figures)

    hypothesis_seed(seed)(run)()
    report_figures("hostile-kafka", **figures, seconds=round(time.monotonic() - started, 1))
    assert time.monotonic() - started < 90


def check(pipeline: Settings, placed: dict[SourcePosition, Hostile], figures: Counter[str]) -> None:
    """Run one worker over ``placed`` and account for every offset."""
    engine = migrated_engine(pipeline)
    worker = WorkerThread(pipeline, engine, until_idle_s=IDLE_S).start()
    summary = worker.join(60)
    assert summary.stopped_by.startswith("idle for"), summary.stopped_by
    assert summary.consumed == len(placed)
    assert fully_committed(pipeline), "consumer-group lag is not 0"
    with engine.connect() as conn:
        history = set(conn.execute(sa.text("SELECT event_id FROM order_history")).scalars())
    engine.dispose()

    letters = list(read_dead_letters(pipeline.kafka_client_config(), pipeline.topic_dlq))
    per_source = Counter(letter.source for letter in letters)
    assert all(n == 1 for n in per_source.values()), "an offset dead-lettered twice"
    assert set(per_source) <= set(placed), "a letter for an offset that was never sent"
    assert all(letter.reason for letter in letters), "a letter without a reason"
    ids = Counter(h.event_id for h in placed.values() if h.event_id)
    unaccounted, wrongly_applied, wrongly_rejected = [], [], []
    for position, hostile in placed.items():
        rejected = position in per_source
        applied = not rejected and hostile.event_id in history
        if not (rejected or applied):
            unaccounted.append(f"{position} {hostile.shape}")
        if applied and hostile.shape in MUST_REJECT:
            wrongly_applied.append(f"{position} {hostile.shape}")
        if rejected and hostile.shape == "valid" and ids[hostile.event_id or ""] == 1:
            wrongly_rejected.append(f"{position} {hostile.shape}")
        figures["dead_lettered" if rejected else "applied"] += 1
        figures[f"shape_{hostile.shape}"] += 1
    assert unaccounted == [], f"neither applied nor dead-lettered: {unaccounted}"
    assert wrongly_applied == [], f"applied although invalid: {wrongly_applied}"
    assert wrongly_rejected == [], f"valid events dead-lettered: {wrongly_rejected}"
    figures["messages"] += len(placed)

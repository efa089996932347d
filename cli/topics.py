"""``sla-pipeline topics``: create the pipeline's topics."""

from __future__ import annotations

import click
from confluent_kafka import KafkaException

from cli.config import get_settings
from cli.errors import fail
from infra import bootstrap
from infra.kafka.admin import KEEP_FOREVER, TopicAdminError


@click.group("topics")
def topics_command() -> None:
    """Manage the pipeline topics.

    \b
    Example:
      sla-pipeline topics create --partitions 12
    """


@topics_command.command("create")
@click.option(
    "--partitions",
    type=click.IntRange(1, 10_000),
    default=6,
    show_default=True,
    help="Partitions per new topic: the most workers of one group that share the work.",
)
@click.option(
    "--replication",
    type=click.IntRange(1, 100),
    default=None,
    show_default="min(3, brokers found)",
    help="Replicas per partition (at most the number of brokers).",
)
@click.option(
    "--min-insync-replicas",
    "min_insync",
    type=click.IntRange(1, 100),
    default=None,
    show_default="2 with 3 or more replicas, else the broker's",
    help="Replicas that must hold a write before acks=all confirms it.",
)
@click.option(
    "--retention-ms",
    type=click.IntRange(KEEP_FOREVER),
    default=None,
    metavar="MS",
    show_default="the broker's, usually 7 days",
    help="retention.ms of the two event topics; -1 keeps messages forever. Kafka measures "
    "it against the event times replay and produce publish: history older than this is "
    "soon deleted.",
)
@click.pass_context
def topics_create_command(
    ctx: click.Context,
    partitions: int,
    replication: int | None,
    min_insync: int | None,
    retention_ms: int | None,
) -> None:
    """Create order-created, status-changed, the dead-letter and the (compacted) SLA alert
    topic; existing ones are kept.

    Fails within seconds, naming the address, when no broker answers. The defaults suit the
    cluster found: on 3 or more brokers every partition has 3 replicas and
    min.insync.replicas=2, so losing one broker loses no confirmed message and stops nothing.

    \b
    Example:
      sla-pipeline topics create --partitions 12 --retention-ms -1
      sla-pipeline --bootstrap-servers kafka:9092 topics create
    """
    topics = bootstrap.pipeline_topics(get_settings(ctx))
    try:
        created = topics.create(partitions, replication, min_insync, retention_ms)
    except (ValueError, TopicAdminError) as exc:
        fail(str(exc))
    except KafkaException as exc:
        fail(f"invalid Kafka configuration: {exc.args[0]}")
    durability, outcome = created.durability, created.outcome
    insync = durability.min_insync or "the broker's"
    click.echo(f"replication {durability.replication}, min.insync.replicas {insync}")
    for name in topics.names:
        note = ""
        if retention_ms is not None and name in topics.events and outcome[name] == "exists":
            note = " (its retention is left as it is)"
        click.echo(f"{name}: {outcome[name]}{note}")


COMMANDS: list[click.Command] = [topics_command]

"""``sla-pipeline consume``: a consumer-group worker, Kafka to the database."""

from __future__ import annotations

import logging
import re
import socket

import click

from cli.config import get_settings
from cli.errors import fail, infrastructure_errors
from consumer.idle import NO_ASSIGNMENT, NO_CONTACT
from consumer.metrics import ConsumerMetrics
from consumer.shutdown import StopFlag
from infra import bootstrap

log = logging.getLogger("sla_pipeline.consume")


def _instance_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9._{}-]{1,200}", value):
        raise click.BadParameter("letters, digits, '.', '_', '-' and {hostname} only")
    return value


@click.command("consume")
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Exit after this long with nothing to read.",
)
@click.option(
    "--max-events", type=click.IntRange(min=1), metavar="N", help="Exit after reading N messages."
)
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), help="Messages per batch [env SLA_BATCH_SIZE]."
)
@click.option(
    "--batch-wait",
    type=click.FloatRange(0.001, 60),
    metavar="SECONDS",
    help="Longest wait to fill a batch while none is being applied [env SLA_BATCH_WAIT_S].",
)
@click.option("--group", help="Consumer group [env SLA_CONSUMER_GROUP].")
@click.option(
    "--instance-id",
    metavar="NAME",
    callback=lambda _ctx, _param, value: _instance_id(value),
    help="A stable name for this worker: restarted under the same name it takes its "
    "partitions back at once, without a rebalance. Unique per running worker; "
    "{hostname} is replaced by the host name [env SLA_CONSUMER_INSTANCE_ID].",
)
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus /metrics on this port."
)
@click.option(
    "--metrics-addr", default="127.0.0.1", show_default=True, help="Address for --metrics-port."
)
@click.option(
    "--alert-sweep",
    type=click.FloatRange(0.1, 86_400),
    metavar="SECONDS",
    help="Sweep open orders for SLA deadlines crossed with no new event every SECONDS of "
    "wall clock (live streams) [env SLA_ALERT_SWEEP_S].",
)
@click.option(
    "--seek-to-database/--no-seek-to-database",
    default=True,
    show_default=True,
    help="On assignment, start at the database's offset when it is ahead of Kafka's.",
)
@click.pass_context
def consume_command(
    ctx: click.Context,
    until_idle: float | None,
    max_events: int | None,
    batch_size: int | None,
    batch_wait: float | None,
    group: str | None,
    instance_id: str | None,
    metrics_port: int | None,
    metrics_addr: str,
    alert_sweep: float | None,
    seek_to_database: bool,
) -> None:
    """Run a consumer-group worker: Kafka to the database until stopped.

    SIGTERM or Ctrl-C finishes the batch in hand, commits and leaves the group.
    Scale out by starting more workers with the same group. Orders entering or
    leaving at_risk/breached are announced on the alert topic (when it exists).

    \b
    Example:
      sla-pipeline consume --metrics-port 9108
      sla-pipeline consume --until-idle 10
      sla-pipeline consume --alert-sweep 30
    """
    updates = {
        "batch_size": batch_size,
        "batch_wait_s": batch_wait,
        "consumer_group": group,
        "consumer_instance_id": instance_id,
        "alert_sweep_s": alert_sweep,
    }
    settings = get_settings(ctx).model_copy(update={k: v for k, v in updates.items() if v})
    static_id = settings.consumer_instance_id
    if static_id is not None:
        static_id = static_id.replace("{hostname}", socket.gethostname())
    metrics = ConsumerMetrics()
    if metrics_port is not None:
        try:
            bound = metrics.serve(metrics_port, metrics_addr)
        except OSError as error:
            fail(f"cannot serve metrics on {metrics_addr}:{metrics_port}: {error}")
        # logged with the bound port: with --metrics-port 0 it is the only way to find it
        log.info("serving Prometheus metrics on http://%s:%d/metrics", metrics_addr, bound)
    with infrastructure_errors(settings), StopFlag() as stop:
        engine = bootstrap.migrated_engine(settings)
        worker = bootstrap.build_worker(
            settings,
            engine,
            until_idle_s=until_idle,
            max_events=max_events,
            metrics=metrics,
            stop=stop,
            seek_to_database=seek_to_database,
            instance_id=static_id,
            tune_interpreter=True,  # this process runs only the worker
        )
        summary = worker.run()
        engine.dispose()
    click.echo(
        f"consumed {summary.consumed} messages in {summary.batches} batches: "
        f"{summary.outcome.applied} applied, {summary.outcome.duplicates} duplicates, "
        f"{summary.dead_lettered} dead-lettered ({summary.stopped_by})"
    )
    if summary.stopped_by.startswith((NO_CONTACT, NO_ASSIGNMENT)):
        # a bounded run that never got its partitions did not do its job
        fail(f"{summary.stopped_by}; check the bootstrap servers and that the topics exist")


COMMANDS: list[click.Command] = [consume_command]

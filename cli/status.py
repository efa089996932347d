"""``sla-pipeline status``: one screen (or JSON document) on the pipeline's health.

Exit code 0 healthy, 1 degraded (see ``infra.reporting.status.judge``),
2 unreachable (Kafka or the database did not answer: one line names which).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cli.config import get_settings
from cli.errors import describe_database_error, fail
from consumer.errors import InfrastructureError
from infra import bootstrap
from infra.reporting.render_json_csv import iso_utc
from infra.reporting.status import (
    UNREACHABLE,
    PipelineStatus,
    Thresholds,
    judge,
    read_database,
    read_kafka,
)


def _unreachable(line: str) -> NoReturn:
    click.echo(f"unreachable: {line}", err=True)
    sys.exit(UNREACHABLE)


@click.command("status")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for a terminal; json for scripts.",
)
@click.option(
    "--max-lag",
    type=click.IntRange(0),
    default=10_000,
    show_default=True,
    help="Degraded when more messages than this wait, over all partitions.",
)
@click.option(
    "--max-event-age",
    "max_event_age",
    type=click.FloatRange(0),
    help="Degraded when the newest applied event is older (seconds of event time).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 300),
    default=5.0,
    show_default=True,
    help="Seconds each service gets to answer before it counts as unreachable.",
)
@click.option(
    "--sla/--no-sla",
    "sla_counts",
    default=True,
    show_default=True,
    help="Count orders at risk and breached (reads every order: skip it in healthchecks).",
)
@click.pass_context
def status_command(
    ctx: click.Context,
    fmt: str,
    max_lag: int,
    max_event_age: float | None,
    timeout: float,
    sla_counts: bool,
) -> None:
    """Show the pipeline's health for the consumer group; exit 0, 1 or 2.

    Per partition: the offset committed in Kafka and stored in the database, the
    end offset and the lag; then event-time freshness, the last batch, dead
    letters by reason, orders awaiting creation, illegal transitions and orders
    at risk or breached. Exit 0 healthy; 1 degraded (lag above --max-lag, stored
    offsets that cannot match the topic, newest event older than --max-event-age);
    2 when Kafka or the database cannot be reached.

    \b
    Example:
      sla-pipeline status
      sla-pipeline status --no-sla --max-lag 5000 --timeout 3 --format json
    """
    settings = get_settings(ctx)
    group = settings.consumer_group
    masked = settings.masked_report_database_url()
    try:
        engine = bootstrap.bounded_report_engine(settings, timeout)
    except (ArgumentError, NotImplementedError) as exc:
        fail(f"database URL {masked}: {exc}")
    try:
        database = read_database(engine, group, sla_counts=sla_counts)
    except SQLAlchemyError as exc:
        _unreachable(describe_database_error(exc, masked, "read the status"))
    finally:
        engine.dispose()
    try:
        kafka = read_kafka(
            settings.kafka_client_config(), group, settings.topics, settings.topic_dlq, timeout
        )
    except InfrastructureError as exc:
        _unreachable(f"Kafka at {settings.kafka_bootstrap_servers}: {exc}")
    status = judge(group, datetime.now(UTC), database, kafka, Thresholds(max_lag, max_event_age))
    click.echo(json.dumps(status_dict(status), indent=2) if fmt == "json" else render(status))
    sys.exit(status.exit_code)


def status_dict(status: PipelineStatus) -> dict[str, Any]:
    """The JSON document as plain Python values (keys in a fixed order)."""
    db, kafka = status.database, status.kafka
    return {
        "consumer_group": status.group,
        "state": "degraded" if status.problems else "healthy",
        "problems": status.problems,
        "now": iso_utc(status.now),
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "kafka_committed": p.kafka_committed,
                "database_next_offset": p.database_next,
                "end_offset": p.end,
                "lag": p.lag,
            }
            for p in status.partitions
        ],
        "lag": sum(p.lag for p in status.partitions),
        "newest_event_at": iso_utc(db.newest_event_at),
        "event_age_s": status.event_age_s,
        "last_batch_at": iso_utc(db.last_batch_at),
        "dead_letters": dict(sorted(kafka.dead_letters.items())),
        "dead_letters_complete": kafka.dead_letters_complete,
        "awaiting_creation": db.awaiting_creation,
        "illegal_transitions": db.illegal_transitions,
        "at_risk": db.at_risk,
        "breached": db.breached,
    }


def render(status: PipelineStatus) -> str:
    """Plain aligned text for a terminal."""
    doc = status_dict(status)
    lines = [f"consumer group {status.group}: {doc['state']}"]
    lines += [f"  ! {problem}" for problem in status.problems]
    lines.append(f"{'topic[partition]':<32} {'kafka':>10} {'database':>10} {'end':>10} {'lag':>8}")
    for p in doc["partitions"]:
        cells = [p["kafka_committed"], p["database_next_offset"], p["end_offset"]]
        shown = " ".join(f"{'-' if c is None else c:>10}" for c in cells)
        where = f"{p['topic']}[{p['partition']}]"
        lines.append(f"{where:<32} {shown} {p['lag']:>8}")
    age = doc["event_age_s"]
    letters = ", ".join(f"{k} {v}" for k, v in doc["dead_letters"].items()) or "none"
    rows = [
        ("newest event", f"{doc['newest_event_at'] or '-'}"
         + ("" if age is None else f" ({age / 3600:.1f} h ago)")),
        ("last batch", doc["last_batch_at"] or "-"),
        ("dead letters", letters + ("" if doc["dead_letters_complete"] else " (incomplete)")),
        ("awaiting creation", doc["awaiting_creation"]),
        ("illegal transitions", doc["illegal_transitions"]),
        ("at risk / breached", f"{_count(doc['at_risk'])} / {_count(doc['breached'])}"),
    ]  # fmt: skip
    lines += [f"{name:<20} {value}" for name, value in rows]
    return "\n".join(lines)


def _count(value: int | None) -> str:
    return "not counted" if value is None else str(value)


COMMANDS: list[click.Command] = [status_command]

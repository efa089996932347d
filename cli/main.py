"""``sla-pipeline``: one program, a subcommand for every job."""

from __future__ import annotations

import logging

import click

from cli.commands import LazyGroup, unused_settings
from cli.config import load_settings, parse_key_values, settings_for_command
from cli.logs import configure_logging


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--database-url", envvar=None, help="SQLAlchemy URL [env SLA_DATABASE_URL].")
@click.option(
    "--bootstrap-servers", help="Kafka bootstrap servers [env SLA_KAFKA_BOOTSTRAP_SERVERS]."
)
@click.option(
    "-X",
    "--kafka-config",
    "kafka_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any librdkafka property (SASL/SSL...), repeatable [env SLA_KAFKA_CONFIG as JSON].",
)
@click.option("--log-level", help="DEBUG, INFO, WARNING or ERROR [env SLA_LOG_LEVEL].")
@click.option("--log-json", is_flag=True, default=None, help="Log one JSON object per line.")
@click.version_option(package_name="logistics-sla-pipeline")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    bootstrap_servers: str | None,
    kafka_config: tuple[str, ...],
    log_level: str | None,
    log_json: bool | None,
) -> None:
    """Streaming pipeline for e-commerce delivery SLAs.

    Events flow producer -> Kafka -> consumer -> PostgreSQL/SQLite; reports
    read the database. Every option can also be set with an SLA_ variable.
    Run `sla-pipeline COMMAND --help` for each command.

    \b
    Example:
      sla-pipeline demo
      sla-pipeline report --by carrier
    """
    overrides: dict[str, object] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap_servers,
        "log_level": log_level,
        "log_json": log_json,
    }
    if kafka_config:
        base = load_settings({}).kafka_config
        merged = {k: v.get_secret_value() for k, v in base.items()}
        merged.update(parse_key_values(kafka_config, "--kafka-config"))
        overrides["kafka_config"] = merged
    settings, ignored = settings_for_command(overrides, unused_settings(ctx.invoked_subcommand))
    configure_logging(settings.log_level, settings.log_json)
    if ignored:
        logging.getLogger("sla_pipeline.settings").warning("%s", ignored)
    ctx.obj = settings


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="sla-pipeline")

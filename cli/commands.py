"""Which subcommands ``sla-pipeline`` has; each lives in its own module.

A module is imported only when one of its commands runs (or help lists them
all): ``report`` need not load the Kafka client, Faker and Alembic first.
"""

from __future__ import annotations

import importlib

import click

#: subcommand -> the ``cli`` module whose ``COMMANDS`` defines it
COMMAND_MODULES: dict[str, str] = {
    "generate": "cli.generate",
    "produce": "cli.publish",
    "replay": "cli.publish",
    "topics": "cli.topics",
    "consume": "cli.consume",
    "ingest": "cli.ingest",
    "demo": "cli.demo",
    "dlq": "cli.dlq",
    "db": "cli.db",
    "report": "cli.report",
    "order": "cli.order",
    "status": "cli.status",
    "schema": "cli.schema",
}


#: settings only commands that talk to Kafka read
KAFKA_SETTINGS = frozenset(
    {
        "kafka_bootstrap_servers",
        "kafka_config",
        "topic_order_created",
        "topic_status_changed",
        "topic_dlq",
        "topic_alerts",
        "consumer_group",
        "batch_wait_s",
    }
)
#: subcommand -> the settings it reads (beyond logging); an invalid setting it does not
#: read is ignored with a warning instead of stopping it
SETTINGS_USED: dict[str, frozenset[str]] = {
    "generate": frozenset(),
    "produce": KAFKA_SETTINGS,
    "replay": KAFKA_SETTINGS,
    "topics": KAFKA_SETTINGS,
    "consume": KAFKA_SETTINGS | {"database_url", "batch_size", "alert_sweep_s"},
    "ingest": frozenset({"database_url", "batch_size"}),
    "demo": frozenset({"database_url", "batch_size"}),
    "dlq": KAFKA_SETTINGS,
    "db": frozenset({"database_url"}),
    "report": frozenset({"database_url", "report_database_url"}),
    "order": frozenset({"database_url", "report_database_url"}),
    "status": KAFKA_SETTINGS | {"database_url", "report_database_url"},
    "schema": frozenset(),
}
_OPTIONAL = KAFKA_SETTINGS | {"database_url", "report_database_url", "batch_size"}


def unused_settings(name: str | None) -> frozenset[str]:
    """Settings that subcommand ``name`` never reads (none for an unknown name)."""
    if name not in SETTINGS_USED:
        return frozenset()
    return _OPTIONAL - SETTINGS_USED[name]


def load_command(name: str) -> click.Command:
    """The command ``name`` from its module. Raises KeyError for an unknown name."""
    module = importlib.import_module(COMMAND_MODULES[name])
    commands: list[click.Command] = module.COMMANDS
    return next(c for c in commands if c.name == name)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMAND_MODULES:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

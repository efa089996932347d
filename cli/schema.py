"""``sla-pipeline schema``: print the wire format's JSON Schema."""

from __future__ import annotations

import json

import click

from domain.alerts import alert_json_schema
from domain.codec import event_json_schema


@click.command("schema")
@click.option(
    "--alerts", is_flag=True, help="Print the schema of the SLA alert topic's messages instead."
)
def schema_command(alerts: bool) -> None:
    """Print the JSON Schema of the event wire format (both event types).

    \b
    Example:
      sla-pipeline schema > event.schema.json
      sla-pipeline schema --alerts > sla-alert.schema.json
    """
    schema = alert_json_schema() if alerts else event_json_schema()
    click.echo(json.dumps(schema, indent=2, sort_keys=True))


COMMANDS = [schema_command]

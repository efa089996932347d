"""``sla-pipeline schema``: print the wire format's JSON Schema."""

from __future__ import annotations

import json

import click

from domain.codec import event_json_schema


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the event wire format (both event types).

    \b
    Example:
      sla-pipeline schema > event.schema.json
    """
    click.echo(json.dumps(event_json_schema(), indent=2, sort_keys=True))


COMMANDS = [schema_command]

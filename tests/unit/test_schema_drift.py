"""The committed JSON Schemas under schemas/ must match the pydantic models.

Regenerate after changing domain/events.py or domain/alerts.py:
``python -m tests.unit.test_schema_drift``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from domain.alerts import alert_json_schema
from domain.codec import event_json_schema
from domain.events import OrderCreated, StatusChanged

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> content, as generated from the models."""
    files = {"event.schema.json": _render(event_json_schema())}
    for name, model in (("order-created", OrderCreated), ("status-changed", StatusChanged)):
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = DRAFT
        files[f"{name}.schema.json"] = _render(schema)
    files["sla-alert.schema.json"] = _render(alert_json_schema())
    return files


@pytest.mark.parametrize("name", sorted(expected_files()))
def test_committed_schema_matches_models(name: str) -> None:
    committed = (SCHEMAS / name).read_text(encoding="utf-8")
    assert committed == expected_files()[name], (
        f"schemas/{name} drifted from the models: run python -m tests.unit.test_schema_drift"
    )


def test_schema_command_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == (SCHEMAS / "event.schema.json").read_text(encoding="utf-8")
    alerts = CliRunner().invoke(cli, ["schema", "--alerts"])
    assert alerts.exit_code == 0
    assert alerts.output == (SCHEMAS / "sla-alert.schema.json").read_text(encoding="utf-8")


if __name__ == "__main__":
    for file_name, content in expected_files().items():
        (SCHEMAS / file_name).write_text(content, encoding="utf-8")
        print(f"wrote schemas/{file_name}")

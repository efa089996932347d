"""The lazily loaded subcommand table matches the commands the modules define."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

from cli.commands import COMMAND_MODULES, load_command


def test_every_module_command_is_in_the_table_and_nothing_else() -> None:
    defined: dict[str, str] = {}
    for module_name in sorted(set(COMMAND_MODULES.values())):
        commands: list[click.Command] = importlib.import_module(module_name).COMMANDS
        for command in commands:
            assert command.name is not None
            defined[command.name] = module_name
    assert defined == COMMAND_MODULES
    for name in COMMAND_MODULES:
        assert load_command(name).name == name


def _loaded_after(command: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after loading ``command``
    (this test process has imported everything already)."""
    probe = (
        "import sys; from cli.main import cli; from cli.commands import load_command; "
        f"load_command({command!r}); "
        f"print(','.join(sorted(m for m in {modules!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return [name for name in out.strip().split(",") if name]


def test_report_does_not_load_the_kafka_client_or_faker() -> None:
    assert _loaded_after("report", ("confluent_kafka", "faker", "alembic")) == []


def test_dlq_does_not_load_alembic_or_faker() -> None:
    assert _loaded_after("dlq", ("alembic", "faker")) == []
    # the probe does see a module the command does load
    assert _loaded_after("dlq", ("confluent_kafka",)) == ["confluent_kafka"]

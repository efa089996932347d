"""Every command of ``sla-pipeline`` shows an example, and every option says what it does."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click

from cli.main import cli


def walk(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Each command (groups and nested groups included) with a context for its help."""
    ctx = click.Context(command, info_name=name, parent=parent)
    yield ctx.command_path, command, ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            found = command.get_command(ctx, sub)
            assert found is not None, sub
            yield from walk(found, sub, ctx)


COMMANDS = list(walk(cli, "sla-pipeline"))
#: "Example:" then lines that each run the program (after optional VAR=value settings)
EXAMPLE = re.compile(r"^\s*Example:\n(?:\s+(?:\S+=\S+ )*sla-pipeline .*\n?)+", re.M)


def test_the_walk_reaches_nested_commands() -> None:
    paths = {path for path, _, _ in COMMANDS}
    assert {"sla-pipeline topics create", "sla-pipeline dlq list", "sla-pipeline db upgrade"} <= (
        paths
    )
    assert len(paths) >= 17


def test_every_command_shows_an_example() -> None:
    missing = []
    for path, command, ctx in COMMANDS:
        help_text = command.get_help(ctx)
        # the \b paragraph keeps the example's lines as written: one command per line
        example = re.search(
            r"^\s*Example:\n((?:\s+(?:\S+=\S+ )*sla-pipeline .*\n?)+)", help_text, re.M
        )
        if example is None:
            missing.append(path)
    assert missing == []


def test_every_option_has_help_and_defaults_are_shown_one_way() -> None:
    silent, hand_written_default = [], []
    for path, command, ctx in COMMANDS:
        for param in command.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            if not (param.help or "").strip():
                silent.append(f"{path} {param.opts[0]}")
            if re.search(r"\[default", param.help or ""):
                hand_written_default.append(f"{path} {param.opts[0]}")
    assert silent == []
    assert hand_written_default == []  # click's show_default writes "[default: ...]"

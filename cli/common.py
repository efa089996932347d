"""Shared pieces of the command line: settings from flags, readable failures."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from consumer.errors import InfrastructureError
from infra.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def fail(message: str) -> NoReturn:
    """Stop the command with one readable line and a non-zero exit."""
    raise CliError(message)


#: settings that have a command-line flag of their own (the rest are SLA_ variables only)
_FLAGS = {
    "database_url": "--database-url",
    "kafka_bootstrap_servers": "--bootstrap-servers",
    "kafka_config": "-X",
    "log_level": "--log-level",
}


def setting_name(field: str) -> str:
    """How a user sets ``field``: its SLA_ variable, and its flag when it has one."""
    flag = _FLAGS.get(field)
    env = f"SLA_{field.upper()}"
    return f"{env} ({flag})" if flag else env


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each invalid setting and why (never its value: it may be a secret)."""
    parts = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        where = setting_name(field) if field in Settings.model_fields else field or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "invalid configuration: " + "; ".join(parts)


def _invalid_fields(exc: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}


def load_settings(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment with CLI ``overrides`` applied (None = not given).

    An invalid setting stops the command with one ``error:`` line naming it.
    """
    return settings_for_command(overrides, frozenset())[0]


def settings_for_command(
    overrides: dict[str, Any], unused: frozenset[str]
) -> tuple[Settings, str | None]:
    """Like :func:`load_settings`, but an invalid setting in ``unused`` (one the command
    at hand never reads) is replaced by its default rather than stopping the command.

    Returns the settings and, when something was replaced, a line saying what.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given), None
    except ValidationError as exc:
        invalid = _invalid_fields(exc)
        if not invalid or not invalid <= unused:
            fail(describe_validation_error(exc))
        ignored = describe_validation_error(exc).replace(
            "invalid configuration", "ignored invalid settings this command does not use", 1
        )
    except SettingsError as exc:  # a source that cannot be parsed at all
        fail(f"invalid configuration: {exc}")
    fields = Settings.model_fields
    defaults = {f: fields[f].get_default(call_default_factory=True) for f in invalid}
    return load_settings({**given, **defaults}), ignored


def get_settings(ctx: click.Context) -> Settings:
    """The settings built by the top-level group for this invocation."""
    settings = ctx.find_object(Settings)
    if settings is None:  # a subcommand invoked without the group, e.g. in tests
        settings = load_settings({})
        ctx.obj = settings
    return settings


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure_logging(level: str, as_json: bool) -> None:
    """Log to stderr, as text or one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def parse_key_values(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs into a dict; a malformed pair is a readable error."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{what} expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value
    return result


def describe_database_error(error: BaseException, masked_url: str, doing: str) -> str:
    """One line for a database error met while ``doing`` (e.g. "compute the report"):
    a failed connection names the database and why; a missing table hints at
    ``db upgrade``, which creates the tables."""
    from infra.db.errors import connection_failure, first_line, is_missing_table

    reason = connection_failure(error)
    if reason is not None:
        return f"cannot connect to the database at {masked_url}: {reason}"
    if is_missing_table(error):
        return (
            f"cannot {doing} from {masked_url}: {first_line(error)}"
            " (has `sla-pipeline db upgrade` been run?)"
        )
    return f"cannot {doing} from {masked_url}: {first_line(error)}"


def describe_infrastructure_error(error: InfrastructureError, settings: Settings) -> str:
    """One line for an unavailable service; a database one names the (masked) URL."""
    if error.kind == "database" and error.__cause__ is not None:
        return describe_database_error(
            error.__cause__, settings.masked_database_url(), "use the database"
        )
    return str(error)

"""Settings from the environment and the command's flags; an invalid one is one line."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from cli.errors import fail
from infra.settings import Settings

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


def parse_key_values(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs into a dict; a malformed pair is a readable error."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{what} expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value
    return result

"""Shared pieces of the command line: settings from flags, readable failures."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError

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


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each invalid setting and why."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "settings"
        parts.append(f"{where}: {error['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load_settings(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment with CLI ``overrides`` applied (None = not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        fail(describe_validation_error(exc))


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

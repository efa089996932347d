"""Configuration: one frozen model read from ``SLA_`` environment variables.

CLI flags override the environment (see ``cli.main``). Credentials are held as
``SecretStr`` and masked whenever settings are printed or logged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from infra.defaults import DEFAULT_BATCH_SIZE, DEFAULT_BATCH_WAIT_S

#: librdkafka properties whose values are credentials (masked when shown).
_SECRET_KEY_PARTS = ("password", "secret", "key", "token", "jaas")


class Settings(BaseSettings):
    """Everything a job needs to connect and run; invalid values fail at load."""

    model_config = SettingsConfigDict(
        env_prefix="SLA_", frozen=True, extra="ignore", env_nested_delimiter="__"
    )

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///sla.db"),
        description="SQLAlchemy URL; default a SQLite file sla.db in the working directory.",
    )
    report_database_url: SecretStr | None = Field(
        default=None,
        description="Where report reads (a hot standby, say); default database_url.",
    )
    kafka_bootstrap_servers: str = Field(default="localhost:9092", min_length=1)
    # NoDecode: parsed by _json_object, so bad JSON is a validation error naming this
    # setting (the settings source would raise a bare parsing error from deep inside)
    kafka_config: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description="Any other librdkafka property, e.g. sasl.password (JSON in SLA_KAFKA_CONFIG).",
    )
    topic_order_created: str = Field(default="order-created", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_status_changed: str = Field(default="status-changed", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_dlq: str = Field(default="pipeline-dlq", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_alerts: str = Field(default="sla-alerts", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    alert_sweep_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="Seconds of wall clock between sweeps for SLA deadlines crossed with no "
        "new event (live streams); unset: no sweep, alerts come from events only.",
    )
    consumer_group: str = Field(default="sla-pipeline", min_length=1)
    consumer_instance_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._{}-]{1,200}$",
        description="A stable worker name: static group membership (group.instance.id); "
        "{hostname} is replaced by the host name.",
    )
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=100_000)
    batch_wait_s: float = Field(default=DEFAULT_BATCH_WAIT_S, gt=0, le=60)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    log_json: bool = False

    @field_validator("database_url", "report_database_url")
    @classmethod
    def _parseable_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            make_url(value.get_secret_value())
        except ArgumentError:
            raise ValueError("not a valid SQLAlchemy database URL") from None
        return value

    @field_validator("kafka_config", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(parsed, dict):
            raise ValueError('expects a JSON object such as {"security.protocol": "SSL"}')
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def topics(self) -> tuple[str, str]:
        """The two event topics, in the order order-created, status-changed."""
        return (self.topic_order_created, self.topic_status_changed)

    def database_url_value(self) -> str:
        """The real database URL (credentials included): for connecting only."""
        return self.database_url.get_secret_value()

    def masked_database_url(self) -> str:
        """The database URL with any password replaced by ``***``."""
        return make_url(self.database_url_value()).render_as_string(hide_password=True)

    def report_database_url_value(self) -> str:
        """The URL reports read from: ``report_database_url``, else ``database_url``."""
        if self.report_database_url is not None:
            return self.report_database_url.get_secret_value()
        return self.database_url_value()

    def masked_report_database_url(self) -> str:
        """The report URL with any password replaced by ``***``."""
        return make_url(self.report_database_url_value()).render_as_string(hide_password=True)

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka configuration shared by every client (credentials included)."""
        config = {"bootstrap.servers": self.kafka_bootstrap_servers}
        config.update({k: v.get_secret_value() for k, v in self.kafka_config.items()})
        return config

    def describe(self) -> dict[str, str]:
        """A printable view of the settings with every credential masked."""
        shown: dict[str, str] = {
            "database_url": self.masked_database_url(),
            **(
                {"report_database_url": self.masked_report_database_url()}
                if self.report_database_url is not None
                else {}
            ),
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "topics": ", ".join([*self.topics, self.topic_dlq, self.topic_alerts]),
            "consumer_group": self.consumer_group,
        }
        for key, value in self.kafka_config.items():
            secret = any(part in key.lower() for part in _SECRET_KEY_PARTS)
            shown[f"kafka.{key}"] = "***" if secret else value.get_secret_value()
        return shown

"""Errors raised while providing local Kafka and PostgreSQL services."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class for every error of ``devservices``."""


class ServiceUnavailable(ServiceError):
    """A prerequisite is missing on this machine (Java, Maven, PostgreSQL binaries).

    Tests treat this as "cannot have the service here": skipped locally, failed in CI.
    """


class ServiceStartError(ServiceError):
    """The service process was started but did not become ready; the message holds its log tail."""


class ServiceStopError(ServiceError):
    """The service process survived SIGKILL, or a pid does not belong to the service."""

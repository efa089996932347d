"""Real Kafka and PostgreSQL servers on 127.0.0.1 for tests and local runs, without Docker.

``LocalKafka`` runs an Apache Kafka 4.x KRaft broker from jars fetched with Maven,
``LocalKafkaCluster`` several of them as one replicated cluster;
``LocalPostgres`` runs a throwaway ``initdb`` cluster. Both are context managers and can be
stopped and started again on the same port and data (``stop(keep_data=True)``, ``start()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from devservices.base import LocalService
from devservices.exceptions import (
    ServiceError,
    ServiceStartError,
    ServiceStopError,
    ServiceUnavailable,
)

if TYPE_CHECKING:
    from devservices.kafka import LocalKafka
    from devservices.kafka_cluster import LocalKafkaCluster
    from devservices.postgres import LocalPostgres

# Imported on first use, so that ``python -m devservices.kafka`` runs a module that the
# package has not imported already.
_LAZY = {
    "LocalKafka": "devservices.kafka",
    "LocalKafkaCluster": "devservices.kafka_cluster",
    "LocalPostgres": "devservices.postgres",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LocalKafka",
    "LocalKafkaCluster",
    "LocalPostgres",
    "LocalService",
    "ServiceError",
    "ServiceStartError",
    "ServiceStopError",
    "ServiceUnavailable",
]

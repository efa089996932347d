"""Shared fixtures: real Kafka and PostgreSQL, unique names, fresh databases.

Services are found in this order, once per session and only when a test asks for them:
1. ``SLA_TEST_KAFKA_BOOTSTRAP`` / ``SLA_TEST_DATABASE_URL`` name servers that already run;
2. testcontainers, when a Docker engine answers;
3. native servers started here (``devservices``: Kafka from Maven jars, ``initdb``).
When none can be had the tests are skipped, or fail when ``CI`` is set.
``kafka_service`` / ``postgres_service`` give the native server to tests that stop and restart
it (None when the server is external); after each test the server is running again.
"""

from __future__ import annotations

import importlib
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, NoReturn, Protocol, TypeVar

import pytest
import sqlalchemy as sa
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy.pool import NullPool

from devservices import LocalKafka, LocalPostgres, LocalService
from devservices.exceptions import ServiceUnavailable

KAFKA_ENV = "SLA_TEST_KAFKA_BOOTSTRAP"
DATABASE_ENV = "SLA_TEST_DATABASE_URL"

ServiceT = TypeVar("ServiceT", bound=LocalService)


@dataclass(frozen=True)
class Endpoint(Generic[ServiceT]):
    """Where a service answers, and the native server behind it (None when external)."""

    address: str
    service: ServiceT | None

    def ensure_running(self) -> None:
        """Bring a native server back if a test left it stopped."""
        if self.service is not None and not self.service.is_running():
            self.service.start()


class TopicFactory(Protocol):
    def __call__(
        self, prefix: str = "test", *, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> str: ...


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}


def _unavailable(what: str, reason: str) -> NoReturn:
    message = f"{what} unavailable: {reason}"
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_engine_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        docker = importlib.import_module("docker")  # installed with testcontainers
        docker.from_env(timeout=5).ping()
    except Exception:  # any failure of this probe just means "no Docker here"
        return False
    return True


def _start_native(service: ServiceT, what: str) -> ServiceT:
    try:
        return service.start()
    except ServiceUnavailable as exc:
        service.stop()
        _unavailable(what, str(exc))


# -- session services ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _kafka_endpoint() -> Iterator[Endpoint[LocalKafka]]:
    if external := os.environ.get(KAFKA_ENV):
        yield Endpoint(external, None)
        return
    if _docker_engine_answers():
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # testcontainers before the "community" split
            from testcontainers.kafka import KafkaContainer
        with KafkaContainer().with_kraft() as container:
            yield Endpoint(str(container.get_bootstrap_server()), None)
        return
    kafka = _start_native(LocalKafka(startup_timeout=180), "Kafka")
    try:
        yield Endpoint(kafka.bootstrap, kafka)
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def _postgres_endpoint() -> Iterator[Endpoint[LocalPostgres]]:
    if external := os.environ.get(DATABASE_ENV):
        yield Endpoint(external, None)
        return
    if _docker_engine_answers():
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:  # testcontainers before the "community" split
            from testcontainers.postgres import PostgresContainer
        with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
            yield Endpoint(str(container.get_connection_url()), None)
        return
    postgres = _start_native(LocalPostgres(), "PostgreSQL")
    try:
        yield Endpoint(postgres.url, postgres)
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka_endpoint: Endpoint[LocalKafka]) -> str:
    """``bootstrap.servers`` of a real Kafka broker shared by the session."""
    return _kafka_endpoint.address


@pytest.fixture(scope="session")
def postgres_url(_postgres_endpoint: Endpoint[LocalPostgres]) -> str:
    """SQLAlchemy URL of a real PostgreSQL database shared by the session."""
    return _postgres_endpoint.address


@pytest.fixture
def kafka_service(_kafka_endpoint: Endpoint[LocalKafka]) -> Iterator[LocalKafka | None]:
    """The native broker, to stop and restart in fault tests; None when Kafka is external."""
    yield _kafka_endpoint.service
    _kafka_endpoint.ensure_running()


@pytest.fixture
def postgres_service(
    _postgres_endpoint: Endpoint[LocalPostgres],
) -> Iterator[LocalPostgres | None]:
    """The native server, to stop and restart in fault tests; None when PostgreSQL is external."""
    yield _postgres_endpoint.service
    _postgres_endpoint.ensure_running()


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    """An AdminClient on the session broker."""
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


# -- per-test names and resources ------------------------------------------------------------


@pytest.fixture
def unique_id() -> str:
    """A short random id, so names made from it never collide across tests and runs."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def group_id(unique_id: str) -> str:
    """A consumer group id no other test uses."""
    return f"test-group-{unique_id}"


@pytest.fixture
def topic_factory(
    _kafka_endpoint: Endpoint[LocalKafka], kafka_admin: AdminClient, unique_id: str
) -> Iterator[TopicFactory]:
    """Create uniquely named topics (``prefix-<id>-<n>``); they are deleted after the test.

    Raises KafkaException when the broker refuses to create a topic.
    """
    created: list[str] = []

    def create(
        prefix: str = "test", *, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> str:
        name = f"{prefix}-{unique_id}-{len(created)}"
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
        )
        kafka_admin.create_topics([topic], operation_timeout=30)[name].result(timeout=60)
        created.append(name)
        _wait_for_leaders(kafka_admin, name, partitions)
        return name

    yield create
    if not created:
        return
    _kafka_endpoint.ensure_running()
    for name, future in kafka_admin.delete_topics(created, operation_timeout=30).items():
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            warnings.warn(f"could not delete test topic {name}: {exc}", stacklevel=1)


def _wait_for_leaders(admin: AdminClient, topic: str, partitions: int) -> None:
    """Return once every partition of ``topic`` has a leader; AssertionError after 30 s."""
    for _ in range(300):
        metadata = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        if metadata is not None and metadata.error is None:
            leaders = [p.leader for p in metadata.partitions.values()]
            if len(leaders) == partitions and all(leader >= 0 for leader in leaders):
                return
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} has no leader for every partition after 30 s")


@pytest.fixture
def pg_database_url(_postgres_endpoint: Endpoint[LocalPostgres], unique_id: str) -> Iterator[str]:
    """SQLAlchemy URL of a brand-new empty PostgreSQL database, dropped after the test."""
    name = f"test_{unique_id}"
    admin = sa.create_engine(
        _postgres_endpoint.address, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(_postgres_endpoint.address).set(database=name)
    yield url.render_as_string(hide_password=False)
    _postgres_endpoint.ensure_running()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of an empty SQLite file in the test's temporary directory."""
    return f"sqlite+pysqlite:///{tmp_path / 'test.db'}"


def pytest_report_header(config: pytest.Config) -> str:
    kafka = os.environ.get(KAFKA_ENV) or "testcontainers/native on first use"
    postgres = "external" if os.environ.get(DATABASE_ENV) else "testcontainers/native on first use"
    return f"services: kafka={kafka}, postgres={postgres}, CI={_in_ci()}"

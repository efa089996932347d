"""librdkafka's log lines go through Python logging, not straight to stderr."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from confluent_kafka import Consumer

from infra.kafka.client_log import ClientLogAdapter, with_client_log


def _closed_port() -> int:
    # a port nothing listens on: bound, then released
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_failures_are_logged_not_printed(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="librdkafka")
    consumer = Consumer(
        with_client_log(
            {"bootstrap.servers": f"127.0.0.1:{_closed_port()}", "group.id": "client-log-test"}
        )
    )
    try:
        consumer.subscribe(["client-log-test"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            r.name == "librdkafka" for r in caplog.records
        ):
            consumer.poll(0.2)  # the client's log lines are served by poll
    finally:
        consumer.close()
    assert any(r.name == "librdkafka" and r.levelno == logging.DEBUG for r in caplog.records)
    assert "|FAIL|" not in capfd.readouterr().err


# librdkafka calls the logger with this format and (facility, client name, text)
RESET = (
    "[thrd:main]: t [0]: offset reset (at offset 2 (leader epoch -1), broker 1) to offset BEGINNING"
)


def test_only_an_offset_reset_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="librdkafka")
    adapter = ClientLogAdapter()
    adapter.log(logging.WARNING, "%s [%s] %s", "OFFSET", "rdkafka#consumer-1", RESET)
    adapter.log(logging.DEBUG, "%s [%s] %s", "OFFSET", "rdkafka#consumer-1", RESET)  # debug
    adapter.log(logging.WARNING, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "connect failed")
    levels = [(r.levelno, r.getMessage().endswith(RESET)) for r in caplog.records]
    assert levels == [(logging.WARNING, True), (logging.DEBUG, True), (logging.DEBUG, False)]

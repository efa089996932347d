"""librdkafka's own log lines, through Python logging (logger ``librdkafka``, DEBUG).

Every client (consumers, producers and the AdminClient) is built with
:func:`with_client_log`. Without a ``logger`` in its configuration a client
prints them to stderr as they come: during a broker outage, a line per
reconnect, many a second, in between the program's own log and error lines.
Every failure that matters reaches the caller as an error or a delivery report
anyway; these are diagnostics, shown with ``--log-level DEBUG``.
"""

from __future__ import annotations

import logging
from typing import Any

client_log = logging.getLogger("librdkafka")


class ClientLogAdapter:
    """Takes librdkafka's log lines (its ``logger`` hook) and logs them at DEBUG."""

    def log(self, level: int, msg: str, *args: object) -> None:
        client_log.debug(msg, *args)


def with_client_log(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with librdkafka's log lines routed to :data:`client_log`."""
    return {**config, "logger": ClientLogAdapter()}

"""librdkafka's own log lines, through Python logging (logger ``librdkafka``).

Every client (consumers, producers and the AdminClient) is built with
:func:`with_client_log`. Without a ``logger`` in its configuration a client
prints them to stderr as they come: during a broker outage, a line per
reconnect, many a second, in between the program's own log and error lines.
Those are diagnostics, logged at DEBUG (shown with ``--log-level DEBUG``): the
failures they describe reach the caller as an error or a delivery report anyway.

One kind does not: a consumer whose position is no longer in the partition (its
messages were deleted by retention before they were read, or the log was
truncated) resets it to ``auto.offset.reset`` and reads on, and nothing but
this line tells that messages were skipped or will be read again. It is logged
as a WARNING.
"""

from __future__ import annotations

import logging
from typing import Any

client_log = logging.getLogger("librdkafka")

#: The facility of librdkafka's offset lines, and what its reset line says.
_OFFSET_FACILITY = "OFFSET"
_OFFSET_RESET = "offset reset"


class ClientLogAdapter:
    """Takes librdkafka's log lines (its ``logger`` hook, called with the format
    ``"%s [%s] %s"`` and facility, client name, text) and logs them at DEBUG, but an
    offset reset at WARNING."""

    def log(self, level: int, msg: str, *args: object) -> None:
        if level >= logging.WARNING and _is_offset_reset(args):
            client_log.warning(
                "a partition's read position was reset; messages between the two "
                "offsets are not read (deleted from Kafka before they were consumed) "
                "or are read again: " + msg,
                *args,
            )
            return
        client_log.debug(msg, *args)


def _is_offset_reset(args: tuple[object, ...]) -> bool:
    return (
        len(args) == 3
        and args[0] == _OFFSET_FACILITY
        and isinstance(args[2], str)
        and _OFFSET_RESET in args[2]
    )


def with_client_log(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with librdkafka's log lines routed to :data:`client_log`."""
    return {**config, "logger": ClientLogAdapter()}

"""Delivery timeouts of the producers that wait for every acknowledgement (dead
letters, SLA alerts)."""

from __future__ import annotations

#: How much sooner than the flush that waits for it a message's delivery times out
#: (or half the flush timeout, if shorter): librdkafka looks for timed-out messages
#: about once a second.
MESSAGE_TIMEOUT_MARGIN_S = 5.0


def message_timeout_ms(flush_timeout_s: float) -> int:
    """``message.timeout.ms`` of a producer whose every publish waits for its
    acknowledgements in one flush of ``flush_timeout_s``: ends before the flush does.

    librdkafka's default (300 s) lets a message caught in flight when the broker went
    away stay queued long after the broker is back -- an idempotent producer holds a
    partition until its outstanding requests are resolved -- and every flush in the
    meantime times out with it still queued. Timing it out within the flush makes
    each publish end with every message confirmed or failed; a failed one is sent
    again by the worker's retry (dead letters and alerts are at least once).
    """
    return max(
        1, round(max(flush_timeout_s / 2, flush_timeout_s - MESSAGE_TIMEOUT_MARGIN_S) * 1000)
    )

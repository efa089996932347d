"""A fault-injection hook of the worker for the fault suite (inert unless configured).

``build_worker`` reads ``PAUSE_BEFORE_OFFSET_COMMIT_ENV`` once, when it builds the
worker (``WorkerConfig.pause_before_offset_commit_s``); the loop never reads the
environment.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping

log = logging.getLogger("consumer.worker")

#: Unset in production: seconds to sleep after the database commit and before the
#: Kafka offset commit, so the fault suite can SIGKILL a worker exactly there and
#: prove that the replay is harmless (docs/guarantees.md).
PAUSE_BEFORE_OFFSET_COMMIT_ENV = "SLA_FAULTS_PAUSE_BEFORE_OFFSET_COMMIT_S"
#: The longest pause the hook accepts.
MAX_PAUSE_S = 60.0


def pause_from_environment(environ: Mapping[str, str] = os.environ) -> float:
    """The pause ``PAUSE_BEFORE_OFFSET_COMMIT_ENV`` asks for, within 0..``MAX_PAUSE_S``;
    0 when it is unset or not a number (a bad value is ignored, as unset)."""
    value = environ.get(PAUSE_BEFORE_OFFSET_COMMIT_ENV)
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_PAUSE_S) if not math.isnan(seconds) else 0.0


def pause_before_offset_commit(seconds: float) -> None:
    """Sleep ``seconds`` (if any) and say so: the fault suite waits for this line."""
    if seconds <= 0:
        return
    log.warning("fault hook: database committed, pausing %.2fs before the offset commit", seconds)
    time.sleep(seconds)

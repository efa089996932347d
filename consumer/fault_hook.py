"""A test-only fault hook of the worker (inert unless its variable is set)."""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("consumer.worker")

#: Test-only fault hook (unset in production): seconds to sleep after the database
#: commit and before the Kafka offset commit, so the fault suite can SIGKILL a worker
#: exactly there and prove that the replay is harmless (docs/guarantees.md).
PAUSE_BEFORE_OFFSET_COMMIT_ENV = "SLA_FAULTS_PAUSE_BEFORE_OFFSET_COMMIT_S"


def pause_before_offset_commit() -> None:
    """The test-only hook of ``PAUSE_BEFORE_OFFSET_COMMIT_ENV``; a bad value is ignored."""
    value = os.environ.get(PAUSE_BEFORE_OFFSET_COMMIT_ENV)
    if not value:
        return
    try:
        seconds = min(max(float(value), 0.0), 60.0)
    except ValueError:
        return
    log.warning("fault hook: database committed, pausing %.2fs before the offset commit", seconds)
    time.sleep(seconds)

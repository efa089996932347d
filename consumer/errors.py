"""The consumer's own error types: an unavailable service, a stop, a lost partition.

Driver exceptions (SQLAlchemy, confluent_kafka) are translated into these at the
adapter boundary, so the batch loop decides on meaning, never on driver classes:
an :class:`InfrastructureError` is retried with backoff and never dead-lettered.
Bad data is not an exception here: decoding turns a bad message into a
``consumer.batch.Rejected`` with its reason code, which is dead-lettered and never
retried (``consumer.decode``).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the consumer raises on purpose."""


class InfrastructureError(PipelineError):
    """A database or broker that cannot be reached right now; retrying may succeed.

    ``kind`` is ``"database"`` or ``"broker"`` (the ``kind`` label of the retry metric).
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind} unavailable: {detail}")
        self.kind = kind
        self.detail = detail


class RetriesAbandoned(PipelineError):
    """Raised when a stop was requested while an outage was still being retried."""


class PartitionFenced(PipelineError):
    """A batch's offsets were not recorded: its partitions were assigned to another
    member after the batch was read (the transaction is rolled back, nothing is lost:
    the new owner reads from the last recorded offset)."""

    def __init__(self, partitions: list[tuple[str, int]]) -> None:
        names = ", ".join(f"{topic}[{partition}]" for topic, partition in partitions)
        super().__init__(f"partitions taken over by another member: {names}")
        self.partitions = partitions

"""The database's side of partition ownership (``consumer.ports.PartitionLedger``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from consumer.ports import PartitionClaim, UnitOfWork


class SqlPartitionLedger:
    """Claims and resets partitions of one consumer group, each call in its own
    transaction. Raises ``InfrastructureError`` when the database is unreachable."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], consumer_group: str) -> None:
        self._unit_of_work = unit_of_work
        self._group = consumer_group

    def claim(
        self, partitions: Collection[tuple[str, int]]
    ) -> Mapping[tuple[str, int], PartitionClaim]:
        with self._unit_of_work() as uow:
            claims = uow.orders.claim_partitions(self._group, partitions)
            uow.commit()
        return claims

    def reset(self, partitions: Mapping[tuple[str, int], str | None]) -> None:
        with self._unit_of_work() as uow:
            uow.orders.reset_offsets(self._group, partitions)
            uow.commit()

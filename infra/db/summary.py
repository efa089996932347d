"""The final state of the database, in the figures every command summary prints.

``ingest``, ``demo`` and ``report`` print the same quantities with the same
definitions: counts here come from ``sales`` and ``order_history`` after the run
(not from what was seen on the way: an orphan completed later, or an event judged
illegal on arrival and legal once its predecessors came, is not counted), and SLA
figures come from the report's own query (``infra.reporting.queries.build_report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from infra.db.models import OrderHistory, Sale


@dataclass(frozen=True, slots=True)
class FinalState:
    """What the database holds: ``orders`` counts every ``sales`` row, of which
    ``awaiting_creation`` have status changes but no ``order-created`` yet;
    ``illegal_transitions`` is the sum of the orders' recorded illegal moves."""

    orders: int
    awaiting_creation: int
    events: int
    illegal_transitions: int
    #: the newest event time in history (None when it is empty)
    newest_event_at: datetime | None

    def line(self) -> str:
        """One line for a command's summary."""
        return (
            f"{self.orders} orders ({self.awaiting_creation} awaiting creation), "
            f"{self.events} events, {self.illegal_transitions} illegal transitions recorded"
        )


def final_state(conn: Connection) -> FinalState:
    """The database's :class:`FinalState`, read now."""
    orders, awaiting, illegal = conn.execute(
        select(
            func.count(),
            func.count().filter(Sale.awaiting_creation.is_(True)),
            func.coalesce(func.sum(Sale.illegal_transitions), 0),
        ).select_from(Sale)
    ).one()
    events, newest = conn.execute(
        select(func.count(), func.max(OrderHistory.occurred_at)).select_from(OrderHistory)
    ).one()
    return FinalState(
        orders=int(orders),
        awaiting_creation=int(awaiting),
        events=int(events),
        illegal_transitions=int(illegal),
        newest_event_at=newest,  # MAX keeps the column's type: an aware UTC datetime
    )

"""Is this database a PostgreSQL hot standby, and how far behind is it?

Reports may read a standby (``SLA_REPORT_DATABASE_URL``) while workers write to the
primary. A standby answers with what it has replayed so far, so a report from it says so
and says how far behind it is, instead of passing old figures off as current.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from infra.db.backend import backend_for

_STATUS = text(
    """
    SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0),
           extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
           pg_is_wal_replay_paused()
    """
)


@dataclass(frozen=True)
class StandbyStatus:
    """Where a standby's replay stands when the report reads it.

    ``unreplayed_bytes``: WAL received from the primary but not yet applied.
    ``replay_lag_s``: age of the last replayed commit while WAL waits to be applied (how
    old the newest data the report sees may be); 0 when all that arrived is applied.
    """

    unreplayed_bytes: int
    replay_lag_s: float
    paused: bool

    @property
    def caught_up(self) -> bool:
        return self.unreplayed_bytes == 0 and not self.paused

    def describe(self) -> str:
        """One line for the report's reader."""
        if self.caught_up:
            return "read from a standby that has replayed all it received from the primary"
        paused = ", replay paused" if self.paused else ""
        return (
            f"read from a standby {self.replay_lag_s:.1f} s behind "
            f"({self.unreplayed_bytes} bytes of WAL not yet replayed{paused}): "
            "the newest changes are missing"
        )


def standby_status(conn: Connection) -> StandbyStatus | None:
    """The standby's replay state, or None for a primary or a database without standbys."""
    return backend_for(conn).standby_status(conn)


def read_standby_status(conn: Connection) -> StandbyStatus:
    """PostgreSQL: the replay state of a standby (raises on a primary: the replay
    functions say "recovery is not in progress")."""
    unreplayed, age_s, paused = conn.execute(_STATUS).one()
    unreplayed_bytes = int(unreplayed)
    lag = float(age_s or 0.0) if unreplayed_bytes > 0 or paused else 0.0
    return StandbyStatus(unreplayed_bytes, max(0.0, lag), bool(paused))

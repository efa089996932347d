"""A PostgreSQL hot standby fed by streaming replication, and a primary+standby pair.

    with LocalPostgresPair() as pair:
        workers_write_to(pair.primary.url)
        reports_read_from(pair.replica.url)

The standby is a real copy made with ``pg_basebackup -R`` (base backup plus
``standby.signal`` and ``primary_conninfo``); it replays the primary's WAL as it streams in
and accepts read-only queries meanwhile. ``scripts/postgres start --replica`` starts a pair.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Self

from devservices import pids_and_ports
from devservices.base import StartedInContext
from devservices.exceptions import ServiceStartError
from devservices.postgres import LocalPostgres


class LocalPostgresReplica(LocalPostgres):
    """A hot standby of ``primary`` with the same user, password and database.

    Raises ServiceStartError when the base backup fails (primary down, replication refused).
    """

    name = "postgres-replica"

    def __init__(self, primary: LocalPostgres, **options: Any) -> None:
        super().__init__(
            user=primary.user,
            password=primary.password,
            database=primary.database,
            **options,
        )
        self.primary = primary

    def _prepare(self) -> None:
        run_as = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            argv = [
                str(self.bin_dir / "pg_basebackup"),
                f"--pgdata={self.data_dir}",
                f"--host={pids_and_ports.LOOPBACK}",
                f"--port={self.primary.port}",
                f"--username={self.user}",
                "--wal-method=stream",
                "--write-recovery-conf",  # standby.signal + primary_conninfo
                "--checkpoint=fast",
                "--no-sync",
            ]
            env = {**self._env(), "PGPASSWORD": self.password}
            if run_as is not None:  # the backup is written as the server's user
                super()._prepare_directory(run_as)
            try:
                pids_and_ports.run_checked(argv, cwd=self.directory, env=env, run_as=run_as)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                raise ServiceStartError(f"pg_basebackup failed: {exc}\n{exc.output}") from exc
        super()._prepare()

    def _after_first_ready(self) -> None:
        """Nothing to create: a standby is read-only and holds what the primary holds."""


class LocalPostgresPair(StartedInContext):
    """A primary and its hot standby in sub-directories ``primary`` and ``replica``."""

    name = "postgres"

    def __init__(
        self,
        *,
        primary: LocalPostgres | None = None,
        replica: LocalPostgresReplica | None = None,
        tie_to_parent: bool = True,
    ) -> None:
        self.primary = primary or LocalPostgres(tie_to_parent=tie_to_parent)
        self.replica = replica or LocalPostgresReplica(self.primary, tie_to_parent=tie_to_parent)

    @property
    def pid(self) -> int | None:
        return self.primary.pid

    def start(self) -> Self:
        """Start the primary, then copy it and start the standby; both stop on failure."""
        try:
            self.primary.start()
            self.replica.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the standby, then the primary, by pid; remove the directories they made."""
        self.replica.stop()
        self.primary.stop()

    def is_running(self) -> bool:
        return self.primary.is_running() or self.replica.is_running()

    def is_ready(self) -> bool:
        return self.primary.is_ready() and self.replica.is_ready()

    def state(self) -> dict[str, Any]:
        """Both servers' states; ``exports`` names the writers' and the reports' URLs."""
        primary, replica = self.primary.state(), self.replica.state()
        return {
            "service": self.name,
            "pid": primary["pid"],
            "pids": [primary["pid"], replica["pid"]],
            "directory": f"{primary['directory']} {replica['directory']}",
            "address": self.primary.url,
            "exports": {
                "SLA_DATABASE_URL": self.primary.url,
                "SLA_REPORT_DATABASE_URL": self.replica.url,
            },
            "primary": primary,
            "replica": replica,
        }

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Self:
        """A handle on a pair started by another process, from its ``state()``."""
        primary = LocalPostgres.attach(state["primary"])
        replica = LocalPostgresReplica(primary, port=int(state["replica"]["port"]),
                                       directory=Path(state["replica"]["directory"]),
                                       tie_to_parent=False)  # fmt: skip
        if state["replica"].get("pid") is not None:
            owns = bool(state["replica"]["owns_directory"])
            replica._attach_pid(int(state["replica"]["pid"]), owns_directory=owns)
        return cls(primary=primary, replica=replica)

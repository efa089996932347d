"""A real throwaway PostgreSQL cluster on 127.0.0.1, made with ``initdb`` in a directory.

    with LocalPostgres() as pg:
        engine = sqlalchemy.create_engine(pg.url)

Command line (used by ``scripts/postgres``):
``python -m devservices.postgres start|stop|status``; ``start --replica`` also starts a
streaming hot standby (``devservices.postgres_replica``).
As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Self

import click
import psycopg
from psycopg import sql

from devservices import pids_and_ports
from devservices.base import LocalService
from devservices.exceptions import ServiceStartError, ServiceUnavailable
from devservices.service_commands import Managed, service_commands

_SERVER_USER = "postgres"


def find_bin_dir() -> Path:
    """Directory of ``initdb`` and ``postgres``: ``$SLA_PG_BIN``, the newest
    ``/usr/lib/postgresql/<N>/bin``, or PATH. ServiceUnavailable when none is found."""
    if explicit := os.environ.get("SLA_PG_BIN"):
        if not (Path(explicit) / "initdb").is_file():
            raise ServiceUnavailable(f"SLA_PG_BIN={explicit} holds no initdb")
        return Path(explicit)
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    if candidates:
        return max(candidates, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServiceUnavailable("no PostgreSQL server binaries (initdb) found; set SLA_PG_BIN")
    return Path(initdb).parent


class LocalPostgres(LocalService):
    """A PostgreSQL server process with its own cluster directory and a password superuser.

    ``url`` is a SQLAlchemy URL ``postgresql+psycopg://user:password@127.0.0.1:port/database``.
    fsync is off (the data is thrown away), but a server crash loses no committed transaction.
    Raises ServiceUnavailable when the binaries (or, as root, the ``postgres`` user) are missing,
    ServiceStartError when initdb fails or the server does not accept a login in time.
    """

    name = "postgres"
    #: SIGINT is PostgreSQL's "fast" shutdown, SIGQUIT its "immediate" one.
    stop_signals = (signal.SIGINT, signal.SIGQUIT)
    # SIGKILL of the postmaster alone could leave backends attached to shared memory, which
    # blocks the next start; "immediate" shutdown is PostgreSQL's own crash (recovery on start).
    crash_signals = (signal.SIGQUIT,)
    parent_death_signal = signal.SIGQUIT

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: Path | str | None = None,
        user: str = "sla",
        password: str | None = None,
        database: str = "sla",
        bin_dir: Path | str | None = None,
        tie_to_parent: bool = True,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            port=port,
            directory=directory,
            tie_to_parent=tie_to_parent,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
        )
        self.user = user
        self.password = password or secrets.token_hex(12)
        self.database = database
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of another database on this server."""
        host = pids_and_ports.LOOPBACK
        return f"postgresql+psycopg://{self.user}:{self.password}@{host}:{self.port}/{database}"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @classmethod
    def attach(cls, state: dict[str, Any]) -> Self:
        """A handle on a server started by another process, from its ``state()``."""
        pg = cls(
            port=int(state["port"]),
            directory=state["directory"],
            user=str(state["user"]),
            password=str(state["password"]),
            database=str(state["database"]),
            tie_to_parent=False,
        )
        if state.get("pid") is not None:
            pg._attach_pid(int(state["pid"]), owns_directory=bool(state["owns_directory"]))
        return pg

    def _state_extra(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "address": self.url,
        }

    def _extra_ports(self) -> list[int]:
        return []

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError as exc:
            raise ServiceUnavailable(
                "running as root but there is no 'postgres' user to run the server as"
            ) from exc
        return _SERVER_USER

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}

    def _prepare_directory(self, run_as: str | None) -> None:
        """Make the socket directory; give the whole directory to ``run_as``."""
        self.socket_dir.mkdir(exist_ok=True)
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            for path in [self.directory, *self.directory.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)

    def _prepare(self) -> None:
        run_as = self._run_as()
        self._prepare_directory(run_as)
        if (self.data_dir / "PG_VERSION").exists():
            return
        password_file = self.directory / "initdb.pw"
        password_file.write_text(self.password + "\n")
        if run_as is not None:
            os.chown(password_file, pwd.getpwnam(run_as).pw_uid, -1)
        argv = [
            str(self.bin_dir / "initdb"),
            f"--pgdata={self.data_dir}",
            f"--username={self.user}",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        try:
            pids_and_ports.run_checked(argv, cwd=self.directory, env=self._env(), run_as=run_as)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ServiceStartError(f"initdb failed: {exc}\n{exc.output}") from exc
        finally:
            password_file.unlink(missing_ok=True)

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": pids_and_ports.LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            # Skipping fsync only risks data on an OS crash. synchronous_commit stays on: without
            # it a server crash (fault tests) would lose transactions already reported committed.
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
            "timezone": "UTC",
        }
        options = [f"--{key}={value}" for key, value in settings.items()]
        return [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), *options]

    def _connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=pids_and_ports.LOOPBACK,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=3,
            autocommit=True,
        )

    def _is_ready(self) -> bool:
        try:
            with self._connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:  # refused, or "the database system is starting up"
            return False
        return True

    def _after_first_ready(self) -> None:
        with self._connect() as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))


def _attach(state: dict[str, Any]) -> Managed:
    if "replica" in state:
        from devservices.postgres_replica import LocalPostgresPair

        return LocalPostgresPair.attach(state)
    return LocalPostgres.attach(state)


def _pair(port: int | None, replica: bool) -> Managed | None:
    if not replica:
        return None
    from devservices.postgres_replica import LocalPostgresPair

    return LocalPostgresPair(primary=LocalPostgres(port=port, tie_to_parent=False))


_REPLICA = click.Option(
    ["--replica"],
    is_flag=True,
    default=False,
    help="Also start a streaming hot standby (pg_basebackup) for reports to read.",
)

main = service_commands(
    "postgres",
    create=lambda port: LocalPostgres(port=port, tie_to_parent=False),
    attach=_attach,
    variant=(_REPLICA, _pair),
    address_label="url",
    env_hint="SLA_DATABASE_URL",
)

if __name__ == "__main__":
    main()

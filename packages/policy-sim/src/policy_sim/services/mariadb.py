"""A throw-away MariaDB server on 127.0.0.1 with a real user and database.

Needs PyMySQL (``pip install 'policy-sim[mariadb]'``), imported only when a server is used.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from policy_sim.services.containers import IMAGES, ContainerProcess
from policy_sim.services.errors import MissingPythonPackage, ServiceStartError
from policy_sim.services.ports import LOCALHOST, free_port
from policy_sim.services.processes import ServiceProcess, require_binary

USER = "mtpolicyd"
PASSWORD = "mtpolicyd-test"
ROOT_PASSWORD = "mtpolicyd-root"
DATABASE = "mtpolicyd"


def _pymysql() -> Any:
    try:
        import pymysql  # noqa: PLC0415 - optional: only MariaDB needs it
    except ImportError:
        raise MissingPythonPackage("pymysql", "policy-sim[mariadb]") from None
    return pymysql


class MariaDBServer:
    """``host``, ``port``, ``user``, ``password``, ``database``, ``url`` (SQLAlchemy), ``dsn`` (Perl DBI)."""

    def __init__(self, workdir: Path, docker: bool = False) -> None:
        self.host = LOCALHOST
        self.port = free_port()
        self.user = USER
        self.password = PASSWORD
        self.database = DATABASE
        self.datadir = workdir / "mariadb-data"
        self.socket = workdir / "mariadb.sock"
        log_path = workdir / f"mariadb-{self.port}.log"
        self.process: ServiceProcess | ContainerProcess
        self._install_db: str | None = None
        self._admin_args: dict[str, object]
        if docker:
            env = {"MARIADB_ROOT_PASSWORD": ROOT_PASSWORD}
            self.process = ContainerProcess(IMAGES["mariadb"], 3306, self.port, log_path, env=env)
            self._admin_args = {
                "host": self.host,
                "port": self.port,
                "user": "root",
                "password": ROOT_PASSWORD,
            }
            return
        self._install_db = require_binary("mariadb-install-db", "mariadb-server")
        binary = require_binary("mariadbd", "mariadb-server")
        argv = [
            binary,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            "--user=root",
            "--skip-log-bin",
            f"--pid-file={workdir / 'mariadb.pid'}",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=500",
            "--skip-name-resolve",
            "--innodb-flush-log-at-trx-commit=0",  # a test server: speed over durability
        ]
        self.process = ServiceProcess(argv, log_path)
        self._admin_args = {"unix_socket": str(self.socket), "user": "root"}

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database."""
        return self.url_for(self.database)

    @property
    def dsn(self) -> str:
        """Perl DBI DSN of the test database (for the original's configs)."""
        return self.dsn_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` with the test user."""
        return f"mysql+pymysql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def dsn_for(self, database: str) -> str:
        """Perl DBI DSN of ``database``."""
        return f"DBI:mysql:database={database};host={self.host};port={self.port}"

    def start(self) -> MariaDBServer:
        """Create the data directory on first start, start the server, create user and database."""
        _pymysql()  # fail before starting anything
        if self._install_db is not None and not self.datadir.exists():
            result = subprocess.run(
                [
                    self._install_db,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServiceStartError("mariadb-install-db", "failed", None, result.stdout + result.stderr)
        self.process.start(self._answers, f"mariadb on {self.host}:{self.port}")
        self.create_database(self.database)
        return self

    def _answers(self) -> bool:
        pymysql = _pymysql()
        try:
            pymysql.connect(**self._admin_args, connect_timeout=1).close()
            return True
        except pymysql.MySQLError:
            return False

    def admin(self) -> Any:
        """A root PyMySQL connection (over the server's socket when local)."""
        return _pymysql().connect(**self._admin_args, autocommit=True)

    def create_database(self, database: str) -> str:
        """Create ``database`` (if new), grant it to the test user; its SQLAlchemy URL."""
        with self.admin() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (self.user, self.password))
            cursor.execute(f"GRANT ALL ON `{database}`.* TO %s@'%%'", (self.user,))
        return self.url_for(database)

    def drop_database(self, database: str) -> None:
        """Drop ``database``."""
        with self.admin() as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")

    def stop(self) -> None:
        """Shut the server down (the data directory stays)."""
        self.process.stop()

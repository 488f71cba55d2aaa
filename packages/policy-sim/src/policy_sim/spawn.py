"""``--spawn CONFIG``: start our daemon and the back-ends its config needs, for a self-contained run.

CONFIG is a template (see ``policy_sim.services.config_template``): ``{port}``, ``{port2}``… become
free ports, ``{tmpdir}`` the daemon's directory, and ``{memcached}``, ``{redis}``, ``{redis_url}``,
``{mariadb_url}``, ``{mariadb_dsn}`` (and ``{mariadb_host}``, ``{mariadb_port}``, ``{mariadb_user}``,
``{mariadb_password}``, ``{mariadb_database}``) start that service. A fleet trace gets one daemon
per host, all on the same back-ends.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from policy_sim.endpoint import Endpoint
from policy_sim.services import ServiceError
from policy_sim.services.config_template import vhost_ports
from policy_sim.services.containers import docker_available
from policy_sim.services.daemons import MtpolicydDaemon, command_argv, python_mtpolicyd_argv
from policy_sim.services.mariadb import MariaDBServer
from policy_sim.services.memcached import MemcachedServer
from policy_sim.services.redis import RedisServer
from policy_sim.targets import Target
from policy_sim.trace.model import Trace


class SpawnError(ServiceError):
    """The config cannot be read or does not fit the trace."""


class _Stoppable(Protocol):
    def stop(self) -> None: ...


BackendT = TypeVar("BackendT", MemcachedServer, RedisServer, MariaDBServer)


class SpawnedDaemons:
    """Our daemon — one per host name — and its back-ends, started on enter and stopped on exit."""

    def __init__(
        self, config_path: str, command: str | None = None, hosts: Sequence[str] = ("mtpolicyd",)
    ) -> None:
        self.config_path = Path(config_path)
        self.command = command
        self.hosts = tuple(hosts)
        self.workdir = Path()  # the run's directory, made on enter; it stays for the logs
        self.daemons: dict[str, MtpolicydDaemon] = {}
        self._started: list[_Stoppable] = []

    @property
    def name(self) -> str:
        """The daemon's command, for messages."""
        return self.command or "mtpolicyd"

    @property
    def log_paths(self) -> list[Path]:
        """Every daemon's log."""
        return [daemon.log_path for daemon in self.daemons.values()]

    def __enter__(self) -> SpawnedDaemons:
        try:
            template = self.config_path.read_text(encoding="utf-8")
        except OSError as error:
            raise SpawnError(f"cannot read {self.config_path}: {error.strerror}") from error
        self.workdir = Path(tempfile.mkdtemp(prefix="policy-sim-"))
        try:
            argv = command_argv(self.command) if self.command else python_mtpolicyd_argv()
            values = self._backends(template)
            for host in self.hosts:  # one after the other: a free port is taken only once it listens
                daemon = MtpolicydDaemon(argv, host, self.workdir / host, template, values, None)
                self._started.append(daemon)
                self.daemons[host] = daemon.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _backends(self, template: str) -> dict[str, object]:
        values: dict[str, object] = {}
        docker = (
            any(f"{{{name}" in template for name in ("memcached", "redis", "mariadb")) and docker_available()
        )
        if "{memcached" in template:
            memcached = self._start(MemcachedServer(self.workdir, docker))
            values["memcached"] = memcached.address
        if "{redis" in template:
            redis = self._start(RedisServer(self.workdir, docker))
            values.update(redis=redis.address, redis_url=redis.url)
        if "{mariadb" in template:
            mariadb = self._start(MariaDBServer(self.workdir, docker))
            values.update(
                mariadb_url=mariadb.url,
                mariadb_dsn=mariadb.dsn,
                mariadb_host=mariadb.host,
                mariadb_port=mariadb.port,
                mariadb_user=mariadb.user,
                mariadb_password=mariadb.password,
                mariadb_database=mariadb.database,
            )
        return values

    def _start(self, service: BackendT) -> BackendT:
        self._started.append(service)
        return service.start()

    def ports(self, host: str) -> dict[str, int]:
        """Vhost name → port of one host's running daemon."""
        return vhost_ports(self.daemons[host].config_path.read_text(encoding="utf-8"))

    def target_for(self, trace: Trace, host: str, label: str, named: bool = False) -> Target:
        """The trace's services matched to ``host``'s vhosts by name (a lone one to the lone vhost)."""
        ports = self.ports(host)
        services: dict[str, Endpoint] = {}
        names = sorted(trace.service_names())
        for name in names:
            if name in ports:
                services[name] = Endpoint("127.0.0.1", ports[name])
        unmatched = [name for name in names if name not in services]
        if unmatched and len(names) == 1 and len(ports) == 1:
            services[names[0]] = Endpoint("127.0.0.1", next(iter(ports.values())))
        elif unmatched:
            raise SpawnError(
                f"trace service(s) {', '.join(unmatched)} match no vhost name of the config "
                f"(vhosts: {', '.join(f'{n}={p}' for n, p in ports.items())})"
            )
        return Target(label, services=services, named=named)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for started in reversed(self._started):
            with contextlib.suppress(Exception):  # stopping the rest matters more
                started.stop()
        self._started.clear()

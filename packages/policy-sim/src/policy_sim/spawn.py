"""``--spawn CONFIG``: start our daemon and the back-ends its config needs, for a self-contained run.

Uses the repository's ``integration.fixtures`` helpers (imported only here, only when asked).
CONFIG is a template like the fixtures take: ``{port}``, ``{port2}``… become free ports,
``{tmpdir}`` the run's directory, and ``{memcached}``, ``{redis}``, ``{redis_url}``,
``{mariadb_url}``, ``{mariadb_dsn}`` (and ``{mariadb_host}``, ``{mariadb_port}``,
``{mariadb_user}``, ``{mariadb_password}``, ``{mariadb_database}``) start that service.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from policy_sim.endpoint import Endpoint
from policy_sim.targets import Target
from policy_sim.trace.model import Trace

_VHOST_OPEN = re.compile(r"^<VirtualHost\s+\"?(?P<port>\d+)\"?\s*>", re.I)
_NAME = re.compile(r"^name(?:\s*=\s*|\s+)\"?(?P<name>[^\"\s#]+)")


class SpawnError(Exception):
    """The daemon or a back-end could not be started."""


def _fixtures() -> dict[str, ModuleType]:
    """Import the fixture modules, finding the repository from here or the working directory."""
    candidates = [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for root in candidates:
        if (root / "integration" / "fixtures" / "__init__.py").exists():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            break
    try:
        return {
            name: importlib.import_module(f"integration.fixtures.{name}")
            for name in ("daemons", "memcached", "redis", "mariadb", "ports")
        }
    except ImportError as error:
        raise SpawnError(
            f"--spawn needs the repository's integration/fixtures package and its "
            f"requirements (pytest, pymysql): {error}. Run policy-sim from the source tree."
        ) from error


def vhost_ports(config: str) -> dict[str, int]:
    """``name`` of every ``<VirtualHost PORT>`` of a config text → its port (unnamed: the port)."""
    ports: dict[str, int] = {}
    port: int | None = None
    name = ""
    depth = 0
    for raw in config.splitlines():
        line = raw.strip()
        opened = _VHOST_OPEN.match(line)
        if opened and port is None:
            port, name, depth = int(opened["port"]), "", 0
        elif port is not None and line.lower().startswith("</virtualhost") and depth == 0:
            ports[name or str(port)] = port
            port = None
        elif port is not None and line.startswith("</"):
            depth -= 1
        elif port is not None and line.startswith("<") and not line.startswith("<<"):
            depth += 1
        elif port is not None and depth == 0 and (found := _NAME.match(line)):
            name = found["name"]
    return ports


class SpawnedDaemon:
    """The daemon and its back-ends, started on enter and stopped on exit."""

    def __init__(self, config_path: str, command: str | None = None, name: str = "mtpolicyd") -> None:
        self.config_path = Path(config_path)
        self.command = command
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix="policy-sim-"))
        self._started: list[Any] = []
        self.daemon: Any = None
        self.log_path: Path | None = None

    def _argv(self) -> list[str]:
        if self.command:
            return self.command.split()
        script = Path(sys.executable).parent / "mtpolicyd"
        found = str(script) if script.exists() else shutil.which("mtpolicyd")
        if not found:
            raise SpawnError("mtpolicyd not found: pip install -e packages/mtpolicyd-server")
        return [found]

    def __enter__(self) -> SpawnedDaemon:
        try:
            template = self.config_path.read_text(encoding="utf-8")
        except OSError as error:
            raise SpawnError(f"cannot read {self.config_path}: {error.strerror}") from error
        modules = _fixtures()
        try:
            values = self._services(template, modules)
            daemon = modules["daemons"].MtpolicydDaemon(
                self._argv(), self.name, self.workdir, template, values, None
            )
            self._started.append(daemon)
            self.daemon = daemon.start()
            self.log_path = daemon.log_path
            ports = self.ports()
            for port in ports.values():
                modules["ports"].wait_until(
                    lambda port=port: modules["ports"].tcp_port_open("127.0.0.1", port),
                    30,
                    f"{self.name} listening on {port}",
                    lambda: None,
                )
        except BaseException as error:  # the fixtures report failures through pytest.fail
            self.__exit__(None, None, None)
            if isinstance(error, (KeyboardInterrupt, SystemExit, SpawnError)):
                raise
            raise SpawnError(f"could not start {self.name} from {self.config_path}: {error}") from error
        return self

    def _services(self, template: str, modules: dict[str, ModuleType]) -> dict[str, object]:
        values: dict[str, object] = {}
        if "{memcached" in template:
            server = self._start(modules["memcached"].MemcachedServer(self.workdir))
            values["memcached"] = server.address
        if "{redis" in template:
            server = self._start(modules["redis"].RedisServer(self.workdir))
            values.update(redis=server.address, redis_url=server.url)
        if "{mariadb" in template:
            server = self._start(modules["mariadb"].MariaDBServer(self.workdir))
            values.update(
                mariadb_url=server.url,
                mariadb_dsn=server.dsn,
                mariadb_host=server.host,
                mariadb_port=server.port,
                mariadb_user=server.user,
                mariadb_password=server.password,
                mariadb_database=server.database,
            )
        return values

    def _start(self, service: Any) -> Any:
        self._started.append(service)
        return service.start()

    def ports(self) -> dict[str, int]:
        """Vhost name → port of the running daemon's config."""
        return vhost_ports(Path(self.daemon.config_path).read_text(encoding="utf-8"))

    def target_for(self, trace: Trace, label: str = "spawned") -> Target:
        """Services of the trace matched to the daemon's vhosts by name (a lone one to the lone vhost)."""
        ports = self.ports()
        services: dict[str, Endpoint] = {}
        names = sorted({stage.service for mail in trace.mails for stage in mail.stages})
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
        return Target(label, services=services)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for started in reversed(self._started):
            with contextlib.suppress(Exception):  # stopping the rest matters more
                started.stop()
        self._started.clear()

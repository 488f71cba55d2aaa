"""The master's optional HTTP endpoints: ``/metrics`` (Prometheus) and ``/health``.

Each configured address gets one small threaded HTTP server in the master (the same
address for both: one server with both paths). The threads only read files and the
scoreboard and open probe connections; they never touch the master's loop. Everything
here is inert when neither ``metrics_address`` nor ``health_address`` is set, and
prometheus-client is imported only for ``metrics_address``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from mtpolicyd_core.config.http_endpoints import parse_http_address
from mtpolicyd_core.config.model import ServerConfig
from mtpolicyd_core.runtime.metrics import install_metrics

from mtpolicyd_server.health import probe_worker
from mtpolicyd_server.metrics_directory import MultiprocessDirectory
from mtpolicyd_server.scoreboard import WorkerState

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from mtpolicyd_server.metrics import PrometheusMetrics

log = logging.getLogger("mtpolicyd.endpoints")

#: a route's answer: HTTP status, content type, body
Response = tuple[int, str, bytes]
Route = Callable[[], Response]


class EndpointServer(ThreadingHTTPServer):
    """One address's HTTP server; its paths answered by ``routes``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], routes: dict[str, Route]) -> None:
        self.address_family = socket.getaddrinfo(address[0], address[1], type=socket.SOCK_STREAM)[0][0]
        self.routes = routes
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: EndpointServer

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.partition("?")[0])
        status, content_type, body = route() if route else (404, "text/plain", b"not found\n")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s: " + format, self.client_address[0], *args)


def probe_address(sock_name: tuple[str, int]) -> tuple[str, int]:
    """Where to connect to reach a listener bound to ``sock_name`` (a wildcard means loopback)."""
    host, port = sock_name[0], sock_name[1]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, port


class MasterEndpoints:
    """The endpoints of one master: set up before the first fork, closed in workers and at exit."""

    def __init__(
        self, server: ServerConfig, probe_target: tuple[str, int], worker_states: Callable[[], Iterable[str]]
    ) -> None:
        self.servers: list[EndpointServer] = []
        self.threads: list[threading.Thread] = []
        self.metrics: PrometheusMetrics | None = None
        self.directory: MultiprocessDirectory | None = None
        routes: dict[tuple[str, int], dict[str, Route]] = {}
        if server.metrics_address:
            self.directory = MultiprocessDirectory()  # before prometheus-client is imported
            from mtpolicyd_server import metrics as prometheus  # noqa: PLC0415 - only with metrics_address

            self.metrics = prometheus.PrometheusMetrics()
            install_metrics(self.metrics)
            known = [state.name.lower() for state in WorkerState]
            registry = prometheus.scrape_registry(
                self.directory.path, prometheus.WorkerStateCollector(worker_states, known)
            )
            address = parse_http_address(server.metrics_address)
            routes.setdefault(address, {})["/metrics"] = _metrics_route(registry)
        if server.health_address:
            address = parse_http_address(server.health_address)
            routes.setdefault(address, {})["/health"] = _health_route(probe_target)
        for address, paths in routes.items():
            endpoint = EndpointServer(address, paths)
            self.servers.append(endpoint)
            log.info("serving %s on %s:%d", ", ".join(sorted(paths)), *address)

    def start(self) -> None:
        """Serve in threads of the master."""
        for endpoint in self.servers:
            thread = threading.Thread(target=endpoint.serve_forever, name="mtpolicyd-http", daemon=True)
            thread.start()
            self.threads.append(thread)

    def in_worker(self) -> None:
        """In a freshly forked worker: let go of the master's listening HTTP sockets."""
        for endpoint in self.servers:
            with contextlib.suppress(OSError):
                endpoint.socket.close()

    def worker_reaped(self, pid: int) -> None:
        """A worker is gone: its live gauges go too."""
        if self.directory is not None:
            from mtpolicyd_server.metrics import process_dead  # noqa: PLC0415 - imported by __init__

            process_dead(pid, self.directory.path)

    def config_reloaded(self, succeeded: bool) -> None:
        """Count a HUP reload."""
        if self.metrics is not None:
            self.metrics.config_reloaded(succeeded)

    def close(self) -> None:
        """Stop serving and remove the metrics files (the master is exiting)."""
        for endpoint in self.servers:
            if self.threads:  # shutdown() waits for serve_forever, which must be running
                endpoint.shutdown()
            endpoint.server_close()
        if self.directory is not None:
            self.directory.remove()


def _metrics_route(registry: CollectorRegistry) -> Route:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415 - as above

    def metrics_page() -> Response:
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    return metrics_page


def _health_route(target: tuple[str, int]) -> Route:
    def health_page() -> Response:
        if probe_worker(target):
            return 200, "text/plain", b"ok: a worker answered\n"
        return 503, "text/plain", b"no worker answered the probe\n"

    return health_page

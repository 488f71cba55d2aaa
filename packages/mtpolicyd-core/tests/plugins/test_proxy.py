import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.proxy import ProxyError, proxy_request
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult

ATTRS = {"request": "smtpd_access_policy", "instance": "abc.1", "client_address": "192.0.2.1"}


class PolicyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections: int
    requests: list[list[str]]
    keepalive: bool
    answer: Callable[[dict[str, str]], str]


class PolicyHandler(socketserver.StreamRequestHandler):
    """Answers each request with ``action=<answer> <client_address>``; records requests and connections."""

    server: PolicyServer

    def handle(self) -> None:
        self.server.connections += 1
        while True:
            lines: list[str] = []
            while (line := self.rfile.readline()) not in (b"\n", b""):
                lines.append(line.decode().rstrip("\n"))
            if not lines:
                return
            self.server.requests.append(lines)
            attributes = dict(line.split("=", 1) for line in lines)
            self.wfile.write(self.server.answer(attributes).encode())
            if not self.server.keepalive:
                return


@pytest.fixture
def server() -> Iterator[PolicyServer]:
    policy = PolicyServer(("127.0.0.1", 0), PolicyHandler)
    policy.connections, policy.requests, policy.keepalive = 0, [], True
    policy.answer = lambda attrs: f"action=reject from {attrs['client_address']}\n\n"
    thread = threading.Thread(target=policy.serve_forever, daemon=True)
    thread.start()
    yield policy
    policy.shutdown()
    policy.server_close()


@pytest.fixture
def proxy(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], server: PolicyServer
) -> Callable[..., Plugin]:
    def make(**settings: str) -> Plugin:
        settings.setdefault("host", f"127.0.0.1:{server.server_address[1]}")
        return build_plugin(block("proxy", module="Proxy", **settings))

    return make


async def test_proxy_answers_what_the_other_server_answers(
    proxy: Callable[..., Plugin], server: PolicyServer
) -> None:
    assert await proxy().run(Request(ATTRS, {})) == [PluginResult("reject from 192.0.2.1", abort=True)]
    assert server.requests == [
        [
            "request=smtpd_access_policy",
            "instance=abc.1",
            "request=smtpd_access_policy",
            "client_address=192.0.2.1",
        ]
    ]


async def test_proxy_opens_a_connection_per_request_without_keepalive(
    proxy: Callable[..., Plugin], server: PolicyServer
) -> None:
    plugin = proxy()
    await plugin.run(Request(ATTRS, {}))
    await plugin.run(Request(ATTRS, {}))
    assert server.connections == 2


async def test_proxy_keepalive_reuses_the_connection(
    proxy: Callable[..., Plugin], server: PolicyServer
) -> None:
    plugin = proxy(keepalive="1")
    for _ in range(3):
        await plugin.run(Request(ATTRS, {}))
    assert server.connections == 1


async def test_proxy_keepalive_reconnects_when_the_server_closed(
    proxy: Callable[..., Plugin], server: PolicyServer
) -> None:
    server.keepalive = False
    plugin = proxy(keepalive="1")
    for _ in range(3):
        assert await plugin.run(Request(ATTRS, {})) == [PluginResult("reject from 192.0.2.1", abort=True)]
    assert server.connections == 3


async def test_proxy_over_unix_socket(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path
) -> None:
    path = str(tmp_path / "policy.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as stream:
            while stream.readline() not in (b"\n", b""):
                pass
            conn.sendall(b"action=dunno\n\n")

    threading.Thread(target=serve, daemon=True).start()
    plugin = build_plugin(block("proxy", module="Proxy", socket_path=path))
    assert await plugin.run(Request(ATTRS, {})) == [PluginResult("dunno", abort=True)]
    listener.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("foo=bar\n\n", "no action found in response"),
        ("garbage\n\n", "error parsing response"),
        ("action=x\n", "could not read response"),
    ],
)
async def test_proxy_bad_responses_fail_the_plugin(
    proxy: Callable[..., Plugin], server: PolicyServer, answer: str, message: str
) -> None:
    server.answer = lambda attrs: answer
    server.keepalive = False
    with pytest.raises(ProxyError, match=message):
        await proxy().run(Request(ATTRS, {}))


async def test_proxy_without_address_fails_at_request_time(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    plugin = build_plugin(block("proxy", module="Proxy"))
    with pytest.raises(ProxyError, match="no host and no socket_path configured!"):
        await plugin.run(Request(ATTRS, {}))


async def test_proxy_unreachable_server(proxy: Callable[..., Plugin]) -> None:
    with pytest.raises(ProxyError, match="could not connect to host"):
        await proxy(host="127.0.0.1:1").run(Request(ATTRS, {}))


def test_proxy_needs_request_and_instance() -> None:
    with pytest.raises(ProxyError, match="without request and instance"):
        proxy_request({"request": "smtpd_access_policy"})


def test_proxy_keepalive_must_be_boolean(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin]
) -> None:
    with pytest.raises(ConfigError, match="keepalive"):
        build_plugin(block("proxy", module="Proxy", keepalive="maybe"))

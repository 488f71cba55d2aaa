"""An in-process fake policy server for policy-sim's own unit tests (scores per instance)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

SCORES = {"RCPT": 1.0, "DATA": 2.0}
SHOWS_SCORE = {"RCPT", "END-OF-MESSAGE"}


@dataclass
class FakeBehaviour:
    """What the fake does: score per state, lose updates, refuse recipients, hang up, greylist."""

    lose_every: int = 0
    reject_recipients: set[str] = field(default_factory=set)
    hang_up_on: set[str] = field(default_factory=set)  # recipients whose request gets no answer
    close_after: int = 0  # close the connection after this many answers (server max_keepalive)
    greylist: Greylist | None = None  # shared by servers of one fleet: defer unseen triplets once


@dataclass
class Greylist:
    """Triplets (client, sender, recipient) seen by any server that shares this object."""

    seen: set[tuple[str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def defers(self, request: dict[str, str]) -> bool:
        """True the first time a triplet asks at RCPT."""
        if request.get("protocol_state") != "RCPT":
            return False
        triplet = (request.get("client_address", ""), request.get("sender", ""), request.get("recipient", ""))
        with self.lock:
            if triplet in self.seen:
                return False
            self.seen.add(triplet)
            return True


class FakePolicyServer(socketserver.ThreadingTCPServer):
    """Keeps a score per ``instance`` like mtpolicyd's session, answers ``dunno score=N``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: FakeBehaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.lock = threading.Lock()
        self.scores: dict[str, float] = {}
        self.requests: list[dict[str, str]] = []
        self.connections = 0
        self.updates = 0

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return f"127.0.0.1:{self.server_address[1]}"

    def answer(self, request: dict[str, str]) -> str | None:
        """The action for a request (None: hang up)."""
        behaviour = self.behaviour
        with self.lock:
            self.requests.append(request)
            if request.get("recipient") in behaviour.hang_up_on:
                return None
            if behaviour.greylist is not None and behaviour.greylist.defers(request):
                return "defer_if_permit greylisted, try again later"
            instance = request.get("instance", "")
            state = request.get("protocol_state", "")
            increment = SCORES.get(state, 0.0)
            if increment:
                self.updates += 1
                if not (behaviour.lose_every and self.updates % behaviour.lose_every == 0):
                    self.scores[instance] = self.scores.get(instance, 0.0) + increment
            if state == "RCPT" and request.get("recipient") in behaviour.reject_recipients:
                return "reject no such user"
            if state in SHOWS_SCORE:
                return f"dunno score={self.scores.get(instance, 0.0):g}"
            return "dunno"


class _Handler(socketserver.StreamRequestHandler):
    server: FakePolicyServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
        answered = 0
        request: dict[str, str] = {}
        for raw in self.rfile:
            line = raw.decode().rstrip("\n")
            if line:
                name, _, value = line.partition("=")
                request[name] = value
                continue
            action = self.server.answer(request)
            request = {}
            if action is None:
                return
            self.wfile.write(f"action={action}\n\n".encode())
            self.wfile.flush()
            answered += 1
            if self.server.behaviour.close_after and answered >= self.server.behaviour.close_after:
                return


@pytest.fixture
def fake_server_factory() -> Iterator[Callable[..., FakePolicyServer]]:
    """``start(behaviour=None) -> FakePolicyServer``, stopped after the test."""
    servers: list[FakePolicyServer] = []

    def start(behaviour: FakeBehaviour | None = None) -> FakePolicyServer:
        server = FakePolicyServer(behaviour or FakeBehaviour())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_server(fake_server_factory: Callable[..., FakePolicyServer]) -> FakePolicyServer:
    """A well-behaved scoring fake."""
    return fake_server_factory()

"""An in-process DNS server on a loopback UDP port that answers from a table, for unit tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

#: ``{("name.", "A"): ["127.0.0.2"], ("name.", "TXT"): ['"text"']}``; names missing → NXDOMAIN
Records = Mapping[tuple[str, str], Sequence[str]]


class FakeDnsServer:
    """Answers A/TXT/… from ``records``; ``queries`` logs what was asked; ``silent`` never answers."""

    def __init__(self, records: Records, silent: bool = False) -> None:
        self.records = {(name.lower(), kind): values for (name, kind), values in records.items()}
        self.silent = silent
        self.queries: list[tuple[str, str]] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port: int = self.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """Environment pointing a Net::DNS-style resolver at this server."""
        return {"RES_NAMESERVERS": "127.0.0.1", "RES_OPTIONS": f"port:{self.port}"}

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name, kind = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, kind))
            if self.silent:
                continue
            response = dns.message.make_response(query)
            values = self.records.get((name, kind))
            if values:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, list(values)))
            elif not any(known == name for known, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), peer)

    def __enter__(self) -> FakeDnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@contextmanager
def fake_dns(
    monkeypatch: pytest.MonkeyPatch, records: Records, silent: bool = False
) -> Iterator[FakeDnsServer]:
    """Run a fake server and point ``RES_NAMESERVERS``/``RES_OPTIONS`` at it for the test."""
    with FakeDnsServer(records, silent) as server:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        yield server

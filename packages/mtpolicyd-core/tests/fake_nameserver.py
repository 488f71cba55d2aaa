"""An in-process asyncio DNS server for resolver unit tests: answers from a table over UDP and TCP
on one loopback port, and misbehaves on demand (drop, hold, rcode, truncate, decoys)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

#: ``{("name.", "A"): ["127.0.0.2"], ("alias.", "CNAME"): ["name."]}``; unknown names → NXDOMAIN
Records = Mapping[tuple[str, str], Sequence[str]]
DECOY_ADDRESS = "10.6.6.6"


@dataclass
class Faults:
    """What the server does wrong; change it between queries."""

    drop: int = 0  #: leave the next N UDP queries unanswered
    hold: bool = False  #: keep UDP queries until ``release()``
    rcode: int | None = None  #: answer everything with this rcode
    truncate: bool = False  #: UDP answers carry TC and no records (TCP answers are whole)
    wrong_id_first: bool = False  #: send a decoy with another id before the answer
    wrong_port_first: bool = False  #: send a decoy from another port before the answer
    wrong_question_first: bool = False  #: send a decoy for another name before the answer
    garbage_first: bool = False  #: send malformed bytes with the right id before the answer


@dataclass(frozen=True)
class SeenQuery:
    """One query the server received."""

    name: str
    rdtype: str
    query_id: int
    source_port: int
    tcp: bool = False


@dataclass
class FakeNameserver:
    """Serve ``records`` on ``host``; ``soa`` = (SOA TTL, minimum) puts an SOA in negative answers."""

    records: Records
    host: str = "127.0.0.1"
    ttl: int = 60
    soa: tuple[int, int] | None = None
    faults: Faults = field(default_factory=Faults)
    queries: list[SeenQuery] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.records = {(name.lower(), kind): values for (name, kind), values in self.records.items()}
        self._transport: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._held: list[tuple[bytes, tuple[str, int]]] = []
        self._arrived = asyncio.Condition()

    async def start(self, port: int = 0) -> FakeNameserver:
        """Listen on ``port`` (0: any free one) for UDP and TCP."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(self.host, port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        try:
            self._tcp_server = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        except OSError:
            transport.close()
            raise
        return self

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    async def wait_for_queries(self, count: int) -> None:
        """Until at least ``count`` queries arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.queries) >= count)

    def release(self) -> None:
        """Answer the held queries and stop holding."""
        self.faults.hold = False
        held, self._held = self._held, []
        for data, peer in held:
            self._answer_udp(data, peer)

    # --- serving ---------------------------------------------------------------------------

    def _note(self, data: bytes, source_port: int, tcp: bool) -> dns.message.Message:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, kind = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
        self.queries.append(SeenQuery(name, kind, query.id, source_port, tcp))
        asyncio.get_running_loop().create_task(self._notify())
        return query

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def datagram_received(self, data: bytes, peer: tuple[str, int]) -> None:
        self._note(data, peer[1], tcp=False)
        if self.faults.drop:
            self.faults.drop -= 1
        elif self.faults.hold:
            self._held.append((data, peer))
        else:
            self._answer_udp(data, peer)

    def _answer_udp(self, data: bytes, peer: tuple[str, int]) -> None:
        assert self._transport is not None
        query = dns.message.from_wire(data)
        wire = self.response(query, tcp=False).to_wire(want_shuffle=False)
        faults = self.faults
        if faults.wrong_id_first:
            self._transport.sendto(self._decoy(query, query_id=(query.id + 1) & 0xFFFF), peer)
        if faults.wrong_question_first:
            other = dns.message.make_query("decoy.invalid.", query.question[0].rdtype)
            other.id = query.id
            self._transport.sendto(self._decoy(other), peer)
        if faults.garbage_first:  # the right id and question, then records that are not there
            garbage = bytearray(wire)
            garbage[7] += 3
            self._transport.sendto(bytes(garbage), peer)
        if faults.wrong_port_first:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port:
                other_port.bind((self.host, 0))
                other_port.sendto(self._decoy(query), peer)
        self._transport.sendto(wire, peer)

    def _decoy(self, query: dns.message.Message, query_id: int | None = None) -> bytes:
        """A plausible answer carrying ``DECOY_ADDRESS``: whoever accepts it is fooled."""
        response = dns.message.make_response(query)
        question = query.question[0]
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, self.ttl, "IN", "A", DECOY_ADDRESS))
        if query_id is not None:
            response.id = query_id
        return response.to_wire(want_shuffle=False)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
            query = self._note(data, writer.get_extra_info("peername")[1], tcp=True)
            wire = self.response(query, tcp=True).to_wire(want_shuffle=False)
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
        finally:
            writer.close()

    def response(self, query: dns.message.Message, tcp: bool) -> dns.message.Message:
        """The answer from the table, following CNAMEs; NXDOMAIN for unknown names."""
        response = dns.message.make_response(query)
        if self.faults.rcode is not None:
            response.set_rcode(dns.rcode.Rcode(self.faults.rcode))
            return response
        if self.faults.truncate and not tcp:
            response.flags |= dns.flags.TC
            return response
        question = query.question[0]
        kind = dns.rdatatype.to_text(question.rdtype)
        owner = question.name.to_text().lower()
        for _ in range(8):
            values = self.records.get((owner, kind))
            if values:
                response.answer.append(dns.rrset.from_text_list(owner, self.ttl, "IN", kind, list(values)))
                return response
            alias = self.records.get((owner, "CNAME"))
            if not alias:
                break
            response.answer.append(dns.rrset.from_text_list(owner, self.ttl, "IN", "CNAME", list(alias)))
            owner = alias[0].lower()
        if not any(known == owner for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if self.soa is not None:
            soa_ttl, minimum = self.soa
            data = f"ns.test. hostmaster.test. 1 3600 600 86400 {minimum}"
            response.authority.append(dns.rrset.from_text("test.", soa_ttl, "IN", "SOA", data))
        return response


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: FakeNameserver) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.datagram_received(data, addr)


async def start_nameservers(
    records: Records, count: int, hosts: Sequence[str] = (), **options: object
) -> list[FakeNameserver]:
    """``count`` servers on 127.0.0.1, 127.0.0.2 … (or ``hosts``) sharing one port, as resolvers
    use one port for all name servers."""
    hosts = hosts or [f"127.0.0.{number + 1}" for number in range(count)]
    for _ in range(20):
        servers = [FakeNameserver(records, host=host, **options) for host in hosts]  # type: ignore[arg-type]
        started: list[FakeNameserver] = []
        try:
            started.append(await servers[0].start())
            for server in servers[1:]:
                started.append(await server.start(started[0].port))
            return started
        except OSError:
            for server in started:
                await server.close()
    raise RuntimeError("no port free on all loopback addresses")

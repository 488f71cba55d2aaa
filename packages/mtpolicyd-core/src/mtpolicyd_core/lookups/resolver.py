"""A strict asyncio stub resolver for one worker: few sockets, no per-query objects beyond need.

Queries go over a small pool of connected UDP sockets per name server (the kernel then drops
datagrams from any other address or port), each re-opened on a new random port after
``queries_per_socket`` queries. A try waits ``try_timeout``; tries go round the name servers
in order (or rotated), a server that answers SERVFAIL/REFUSED or is unreachable is skipped
for the rest of the look-up, and ``attempts`` timed-out tries end it. A truncated answer is
asked again over TCP. One timer serves every try in flight: all tries wait equally long,
so the oldest try always expires first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
import time
from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

from mtpolicyd_core.errors import MtPolicydError
from mtpolicyd_core.lookups.dns_cache import CacheKey, CacheStats, DnsCache, answer_ttl
from mtpolicyd_core.lookups.dns_wire import (
    CLASS_IN,
    CNAME,
    FLAG_TC,
    NOERROR,
    NXDOMAIN,
    RCODE_NAMES,
    DnsMessage,
    DnsWireError,
    RecordData,
    ResourceRecord,
    decode_response,
    encode_query,
)
from mtpolicyd_core.lookups.resolver_config import ResolverConfig
from mtpolicyd_core.runtime.metrics import metrics

logger = logging.getLogger(__name__)

SOCKETS_PER_SERVER = 4
QUERIES_PER_SOCKET = 1000
MAX_CNAME_CHAIN = 16
#: seconds a thread waits beyond the look-up's lifetime for the loop to answer
THREAD_GRACE = 5.0
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class DnsLookupError(MtPolicydError):
    """No usable answer: every try timed out, failed (SERVFAIL, REFUSED …) or hit a network error.
    ``str()`` is the reason as Net::DNS's ``errorstring`` puts it, e.g. ``query timed out``."""

    def __init__(self, name: str, rdtype: int, reason: str, nameservers: tuple[str, ...] = ()) -> None:
        self.name = name
        self.rdtype = rdtype
        self.reason = reason
        self.nameservers = nameservers
        super().__init__(reason)


class DnsAnswer(NamedTuple):
    """The outcome of a look-up: ``rcode`` (NOERROR with ``records`` empty is NODATA), the records
    of the asked type for the name at the end of ``cname_chain``, and whether the cache gave it.
    (A NamedTuple rather than a frozen dataclass: one is built per look-up, at a third of the cost.)"""

    name: str
    rdtype: int
    rcode: int
    records: tuple[ResourceRecord, ...]
    cname_chain: tuple[str, ...] = ()
    from_cache: bool = False

    @property
    def values(self) -> list[RecordData]:
        """The records' values (addresses as text, TXT strings …)."""
        return [record.data for record in self.records]


class _UdpSocket:
    """One connected UDP socket to one name server."""

    __slots__ = ("in_flight", "retired", "sent", "server", "sock")

    def __init__(self, sock: socket.socket, server: int) -> None:
        self.sock = sock
        self.server = server
        self.sent = 0
        self.in_flight = 0
        self.retired = False


class _Query:
    """One look-up in flight, shared by everyone who asked for it meanwhile."""

    __slots__ = (
        "body", "deadline", "failed", "first_server", "key", "last_error", "name", "qname", "qtail",
        "query_id", "rdtype", "server", "socket", "timeouts_left", "tries", "waiters",
    )  # fmt: skip

    def __init__(self, key: CacheKey, name: str, rdtype: int, attempts: int, first_server: int) -> None:
        self.key = key
        self.name = name
        self.rdtype = rdtype
        packet = encode_query(0, name, rdtype)
        self.body = packet[2:]
        self.qname = packet[12:-4].lower()
        self.qtail = packet[-4:]
        self.waiters: list[asyncio.Future[DnsAnswer]] = []
        self.timeouts_left = attempts
        self.first_server = first_server
        self.tries = 0
        self.failed: set[int] = set()
        self.last_error = "query timed out"
        self.server = -1
        self.query_id = -1
        self.socket: _UdpSocket | None = None
        self.deadline = 0.0

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` is a response to this query's current try: id, QR, opcode, question."""
        end = 12 + len(self.qname)
        return (
            len(data) >= end + 4
            and (data[0] << 8 | data[1]) == self.query_id
            and data[2] & 0xF8 == 0x80
            and data[4:6] == b"\x00\x01"
            and data[12:end].lower() == self.qname
            and data[end : end + 4] == self.qtail
        )


class DnsResolver:
    """A worker's resolver; create it inside the worker's running loop (never before the fork),
    and ``await aclose()`` when the worker retires."""

    def __init__(
        self,
        config: ResolverConfig | None = None,
        *,
        sockets_per_server: int = SOCKETS_PER_SERVER,
        queries_per_socket: int = QUERIES_PER_SOCKET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.config = config if config is not None else ResolverConfig.from_system()
        self.cache: DnsCache[DnsAnswer] = DnsCache(self.config.cache_size, self.config.max_cache_ttl, clock)
        self._sockets_per_server = max(sockets_per_server, 1)
        self._queries_per_socket = max(queries_per_socket, 1)
        self._addresses: dict[int, tuple[int, tuple[Any, ...]]] = {}
        self._pools: dict[int, list[_UdpSocket]] = {}
        self._pool_turn = 0
        self._in_flight: dict[CacheKey, _Query] = {}
        #: UDP tries awaiting an answer by id, oldest first
        self._by_id: dict[int, _Query] = {}
        self._ids: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._rotation = 0
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- API --------------------------------------------------------------------------------

    async def query(self, name: str, rdtype: int) -> DnsAnswer:
        """The answer for ``name``/``rdtype`` (NXDOMAIN and NODATA are answers); DnsLookupError if
        there is none, ValueError if ``name`` cannot be a DNS name."""
        key = (_key_name(name), rdtype)
        answer = self.cache.get(key)
        metrics().dns_lookup(cache_hit=answer is not None)
        if answer is not None:
            return answer
        if self._closed:
            raise RuntimeError("the DNS resolver is closed")
        waiter: asyncio.Future[DnsAnswer] = self._loop.create_future()
        query = self._in_flight.get(key)
        if query is not None:
            query.waiters.append(waiter)
        else:
            self._start(key, name, rdtype, waiter)
        return await waiter

    def query_from_thread(self, name: str, rdtype: int) -> DnsAnswer:
        """``query`` for code in a worker thread (pyspf under ``run_in_executor``): runs on the
        resolver's loop, which must be running in another thread, and blocks until done."""
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("query_from_thread() called on the resolver's own loop; await query()")
        future = asyncio.run_coroutine_threadsafe(self.query(name, rdtype), self._loop)
        try:
            return future.result(self.config.lifetime + THREAD_GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DnsLookupError(name, rdtype, "query timed out", self.config.nameservers) from None

    def stats(self) -> CacheStats:
        """The cache's counters."""
        return self.cache.stats()

    def describe(self) -> str:
        """Servers, timeouts and cache bounds, for ``mtpolicyd -d``."""
        return self.config.describe()

    async def aclose(self) -> None:
        """Fail what is in flight, close every socket."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for query in list(self._in_flight.values()):
            self._forget_try(query)
            self._fail(query, "resolver closed")
        for task in list(self._tcp_tasks):
            task.cancel()
        await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
        for pool in self._pools.values():
            for udp in pool:
                self._close_socket(udp)
        self._pools.clear()

    # --- sending ----------------------------------------------------------------------------

    def _start(self, key: CacheKey, name: str, rdtype: int, waiter: asyncio.Future[DnsAnswer]) -> None:
        first_server = 0
        if self.config.rotate:
            first_server = self._rotation % len(self.config.nameservers)
            self._rotation += 1
        query = _Query(key, name, rdtype, self.config.attempts, first_server)
        query.waiters.append(waiter)
        self._in_flight[key] = query
        metrics().dns_query_sent()
        self._send(query)

    def _send(self, query: _Query) -> None:
        """The next try over UDP, to the next server not yet failed; ends the look-up if none is left."""
        server = self._next_server(query)
        if server < 0:
            self._fail(query, query.last_error)
            return
        query.server = server
        try:
            udp = self._socket_for(server)
        except OSError as error:
            self._try_failed(query, error.strerror or str(error), server_failed=True)
            return
        query_id = self._new_id()
        query.query_id = query_id
        query.socket = udp
        query.deadline = self._loop.time() + self.config.try_timeout
        self._by_id[query_id] = query
        udp.in_flight += 1
        try:
            udp.sock.send(query_id.to_bytes(2, "big") + query.body)
        except BlockingIOError:
            pass  # the socket buffer is full: as if the datagram were lost, the try times out
        except OSError as error:
            self._try_failed(query, error.strerror or str(error), server_failed=True)
            return
        if self._timer is None:
            self._timer = self._loop.call_at(query.deadline, self._expire)

    def _next_server(self, query: _Query) -> int:
        count = len(self.config.nameservers)
        while len(query.failed) < count:
            server = (query.first_server + query.tries) % count
            query.tries += 1
            if server not in query.failed:
                return server
        return -1

    def _socket_for(self, server: int) -> _UdpSocket:
        """A socket of the server's pool, round robin; opens and renews sockets as needed."""
        pool = self._pools.get(server)
        if pool is None:
            pool = self._pools[server] = []
        self._pool_turn += 1
        if len(pool) < self._sockets_per_server:
            pool.append(self._open_socket(server))
            udp = pool[-1]
        else:
            index = self._pool_turn % len(pool)
            udp = pool[index]
            if udp.sent >= self._queries_per_socket:
                fresh = self._open_socket(server)  # if this fails, the old socket goes on serving
                udp.retired = True
                if not udp.in_flight:
                    self._close_socket(udp)
                udp = pool[index] = fresh
        udp.sent += 1
        return udp

    def _open_socket(self, server: int) -> _UdpSocket:
        family, address = self._address(server)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(address)  # binds a random local port; the kernel filters other senders
        except OSError:
            sock.close()
            raise
        udp = _UdpSocket(sock, server)
        self._loop.add_reader(sock.fileno(), self._on_readable, udp)
        return udp

    def _address(self, server: int) -> tuple[int, tuple[Any, ...]]:
        known = self._addresses.get(server)
        if known is None:
            info = socket.getaddrinfo(
                self.config.nameservers[server], self.config.port, type=socket.SOCK_DGRAM,
                flags=socket.AI_NUMERICHOST,
            )  # fmt: skip
            known = self._addresses[server] = (info[0][0], info[0][4])
        return known

    def _close_socket(self, udp: _UdpSocket) -> None:
        self._loop.remove_reader(udp.sock.fileno())
        udp.sock.close()

    def _new_id(self) -> int:
        """A random id no try in flight uses."""
        ids = self._ids
        while True:
            if not ids:
                ids.extend(array("H", os.urandom(1024)))
            query_id = ids.pop()
            if query_id not in self._by_id:
                return query_id

    # --- receiving --------------------------------------------------------------------------

    def _on_readable(self, udp: _UdpSocket) -> None:
        try:
            data = udp.sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # an ICMP error: this server does not listen or cannot be reached
            reason = error.strerror or str(error)
            for unreachable in [query for query in self._by_id.values() if query.socket is udp]:
                self._try_failed(unreachable, reason, server_failed=True)
            return
        query = self._by_id.get(data[0] << 8 | data[1]) if len(data) > 1 else None
        if query is None or query.socket is not udp or not query.matches(data):
            logger.debug("ignored a DNS datagram that answers no query in flight")
            return
        try:
            message = decode_response(data)
        except DnsWireError as error:
            logger.debug("ignored a malformed DNS response for %s: %s", query.name, error)
            return
        self._forget_try(query)
        self._on_response(query, message, over_tcp=False)

    def _on_response(self, query: _Query, message: DnsMessage, over_tcp: bool) -> None:
        rcode = message.flags & 0x000F
        if message.flags & FLAG_TC and not over_tcp:
            task = self._loop.create_task(self._tcp_try(query))
            self._tcp_tasks.add(task)
            task.add_done_callback(self._tcp_tasks.discard)
        elif rcode in (NOERROR, NXDOMAIN):
            self._succeed(query, message)
        else:
            self._try_failed(query, RCODE_NAMES.get(rcode) or f"RCODE{rcode}", server_failed=True)

    def _expire(self) -> None:
        """Time out every try past its deadline (the oldest come first), then wait for the next."""
        now = self._loop.time()
        by_id = self._by_id
        while by_id:
            query = next(iter(by_id.values()))
            if query.deadline > now:
                break
            self._try_failed(query, "query timed out", server_failed=False)
        self._timer = None
        if by_id:
            self._timer = self._loop.call_at(next(iter(by_id.values())).deadline, self._expire)

    def _try_failed(self, query: _Query, reason: str, server_failed: bool) -> None:
        """One try is over without an answer: try again while attempts and servers are left."""
        self._forget_try(query)
        query.last_error = reason
        if server_failed:
            query.failed.add(query.server)
        else:
            query.timeouts_left -= 1
            if query.timeouts_left <= 0:
                self._fail(query, reason)
                return
        self._send(query)

    def _forget_try(self, query: _Query) -> None:
        udp = query.socket
        if udp is None:
            return
        query.socket = None
        del self._by_id[query.query_id]
        udp.in_flight -= 1
        if udp.retired and not udp.in_flight:
            self._close_socket(udp)

    async def _tcp_try(self, query: _Query) -> None:
        """Ask the same server over TCP after a truncated answer."""
        try:
            async with asyncio.timeout(self.config.try_timeout):
                message = await self._tcp_exchange(query)
        except TimeoutError:
            self._try_failed(query, "query timed out", server_failed=False)
        except (OSError, EOFError, DnsWireError) as error:
            self._try_failed(query, getattr(error, "strerror", None) or str(error), server_failed=True)
        else:
            self._on_response(query, message, over_tcp=True)

    async def _tcp_exchange(self, query: _Query) -> DnsMessage:
        query.query_id = self._new_id()
        packet = query.query_id.to_bytes(2, "big") + query.body
        reader, writer = await asyncio.open_connection(
            self.config.nameservers[query.server], self.config.port
        )
        try:
            writer.write(len(packet).to_bytes(2, "big") + packet)
            length = int.from_bytes(await reader.readexactly(2), "big")
            data = await reader.readexactly(length)
        finally:
            writer.close()
        if not query.matches(data):
            raise DnsWireError("TCP response does not answer the query")
        return decode_response(data)

    # --- ending a look-up -------------------------------------------------------------------

    def _succeed(self, query: _Query, message: DnsMessage) -> None:
        del self._in_flight[query.key]
        records, chain = _records_for(message, query.rdtype)
        answer = DnsAnswer(query.name, query.rdtype, message.rcode, records, chain)
        if self.cache.max_entries:
            ttl = answer_ttl(message.rcode, bool(records), message.answer, message.authority)
            if ttl is not None:
                cached = DnsAnswer(query.name, query.rdtype, message.rcode, records, chain, from_cache=True)
                self.cache.put(query.key, cached, ttl)
        for waiter in query.waiters:
            if not waiter.done():
                waiter.set_result(answer)

    def _fail(self, query: _Query, reason: str) -> None:
        del self._in_flight[query.key]
        metrics().dns_failure("timeout" if "timed out" in reason else "error")
        for waiter in query.waiters:
            if not waiter.done():
                waiter.set_exception(
                    DnsLookupError(query.name, query.rdtype, reason, self.config.nameservers)
                )


def _records_for(message: DnsMessage, rdtype: int) -> tuple[tuple[ResourceRecord, ...], tuple[str, ...]]:
    """The answer's records of ``rdtype`` for the question's name, following CNAMEs in the answer."""
    answer = message.answer
    name = message.questions[0].name
    usual = (
        record.name is name and record.rdtype == rdtype and record.rdclass == CLASS_IN for record in answer
    )
    if all(usual):
        return answer, ()  # the usual: owners compressed to the question's name, all of the asked type
    wanted = name.lower()
    chain: list[str] = []
    for _ in range(MAX_CNAME_CHAIN):
        records = tuple(
            record for record in answer
            if record.rdtype == rdtype and record.rdclass == CLASS_IN and record.name.lower() == wanted
        )  # fmt: skip
        if records or rdtype == CNAME:
            return records, tuple(chain)
        alias = next(
            (record.data for record in answer
             if record.rdtype == CNAME and isinstance(record.data, str) and record.name.lower() == wanted),
            None,
        )  # fmt: skip
        if alias is None:
            break
        chain.append(alias)
        wanted = alias.lower()
    return (), tuple(chain)


def _key_name(name: str) -> str:
    """The cache and coalescing key of a name: ASCII lower case, without the final dot."""
    key = name.lower() if name.isascii() else name.translate(_ASCII_LOWER)
    if key.endswith(".") and len(key) > 1 and not key.endswith("\\."):
        key = key[:-1]
    return key


__all__ = ["DnsAnswer", "DnsLookupError", "DnsResolver", "ResolverConfig"]

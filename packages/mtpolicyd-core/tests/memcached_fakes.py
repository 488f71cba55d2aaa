"""An in-process memcached (text protocol, asyncio) for unit tests, able to misbehave on demand."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

#: in ``script``: send the first half of the real answer, then close the connection
CLOSE_MID_ANSWER = b"close mid answer"


class FakeMemcached:
    """memcached on 127.0.0.1: ``stall()``/``resume()`` hold answers back (reading goes on, like a
    stopped server's kernel buffers); ``script`` replaces the next answers; ``delay(command line)`` gives
    seconds to wait before an answer; ``chunk`` splits answers into writes of that many bytes."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.received: list[bytes] = []
        self.connections = 0
        self.max_unanswered = 0
        self._answered = 0
        self.script: deque[bytes] = deque()
        self.delay: Callable[[bytes], float] = lambda command: 0.0
        self.chunk = 0
        self.port = 0
        self._answering = asyncio.Event()
        self._answering.set()
        self._received_changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Future[Any]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FakeMemcached:
        """Listen (again, on the same port once one was chosen)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every connection (a killed server: its data is gone)."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.data.clear()

    def drop_connections(self) -> None:
        """Close every client connection at once (a restarted server)."""
        for writer in list(self._writers):
            writer.transport.abort()

    def stall(self) -> None:
        self._answering.clear()

    def resume(self) -> None:
        self._answering.set()

    async def wait_received(self, count: int) -> None:
        """Until ``count`` commands have arrived."""
        while len(self.received) < count:
            self._received_changed.clear()
            await self._received_changed.wait()

    async def __aenter__(self) -> FakeMemcached:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.resume()
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        answers: asyncio.Queue[tuple[bytes, bytes, bool]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(writer, answers))
        try:
            while line := await reader.readline():
                command = line.rstrip(b"\r\n")
                parts = command.split(b" ")
                value = None
                if parts[0] in (b"set", b"add", b"replace"):
                    value = (await reader.readexactly(int(parts[4]) + 2))[:-2]
                self.received.append(command)
                self._received_changed.set()
                answer = self.answer(parts, value)
                scripted = self.script.popleft() if self.script else answer
                close = scripted == CLOSE_MID_ANSWER
                answers.put_nowait((command, answer if close else bytes(scripted), close))
                self.max_unanswered = max(self.max_unanswered, len(self.received) - self._answered)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            self._writers.discard(writer)
            self._handlers.discard(handler)
            writer.transport.abort()

    async def _send(
        self, writer: asyncio.StreamWriter, answers: asyncio.Queue[tuple[bytes, bytes, bool]]
    ) -> None:
        while True:
            command, answer, close = await answers.get()
            await self._answering.wait()
            if pause := self.delay(command):
                await asyncio.sleep(pause)
            if close:
                writer.write(answer[: len(answer) // 2])
                writer.close()
                return
            size = self.chunk or len(answer)
            for start in range(0, len(answer), size):
                writer.write(answer[start : start + size])
                await writer.drain()
                if self.chunk:
                    await asyncio.sleep(0)
            self._answered += 1

    def answer(self, parts: list[bytes], value: bytes | None) -> bytes:
        """What memcached answers to one command."""
        verb, key = parts[0], parts[1] if len(parts) > 1 else b""
        handler: Any = getattr(self, f"_{verb.decode()}", None)
        return b"ERROR\r\n" if handler is None else handler(key, parts, value)

    def _get(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        if key not in self.data:
            return b"END\r\n"
        stored = self.data[key]
        return b"VALUE %b 0 %d\r\n%b\r\nEND\r\n" % (key, len(stored), stored)

    def _set(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        self.data[key] = value or b""
        return b"STORED\r\n"

    def _add(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        return b"NOT_STORED\r\n" if key in self.data else self._set(key, parts, value)

    def _replace(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        return self._set(key, parts, value) if key in self.data else b"NOT_STORED\r\n"

    def _delete(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        return b"DELETED\r\n" if self.data.pop(key, None) is not None else b"NOT_FOUND\r\n"

    def _incr(self, key: bytes, parts: list[bytes], value: bytes | None, sign: int = 1) -> bytes:
        if key not in self.data:
            return b"NOT_FOUND\r\n"
        number = max(0, int(self.data[key]) + sign * int(parts[2])) % 2**64
        self.data[key] = b"%d" % number
        return b"%d\r\n" % number

    def _decr(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        return self._incr(key, parts, value, -1)

    def _touch(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        return b"TOUCHED\r\n" if key in self.data else b"NOT_FOUND\r\n"

    def _flush_all(self, key: bytes, parts: list[bytes], value: bytes | None) -> bytes:
        self.data.clear()
        return b"OK\r\n"

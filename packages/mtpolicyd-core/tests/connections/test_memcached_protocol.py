"""The pipelined asyncio memcached client against an in-process fake memcached."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memcached_fakes import CLOSE_MID_ANSWER, FakeMemcached
from mtpolicyd_core.connections.memcached_errors import (
    MemcachedConnectionError,
    MemcachedConnectionLost,
    MemcachedError,
    MemcachedKeyError,
    MemcachedProtocolError,
    MemcachedServerError,
    MemcachedTimeout,
)
from mtpolicyd_core.connections.memcached_protocol import (
    DELETE_ANSWERS,
    STORE_ANSWERS,
    Expect,
    MemcachedClient,
    PipelinedConnection,
)

pytestmark = pytest.mark.usefixtures("any_event_loop")
Scenario = Callable[[FakeMemcached, MemcachedClient], Awaitable[None]]


def run(scenario: Scenario, **options: Any) -> None:
    """Run ``scenario(fake, client)`` in a fresh loop; the client talks to the fake (with a timeout of
    10 s unless given: only tests about timeouts depend on time)."""
    options.setdefault("timeout", 10.0)

    async def main() -> None:
        async with FakeMemcached() as fake:
            client = MemcachedClient("127.0.0.1", fake.port, **options)
            try:
                await scenario(fake, client)
            finally:
                await client.aclose()

    asyncio.run(main())


def test_commands_answer_as_memcached_does() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        assert await client.get("a") is None
        assert await client.set("a", b"1\r\nEND\r\n", 10) is True
        assert await client.get("a") == b"1\r\nEND\r\n"
        assert await client.add("a", b"2") is False
        assert await client.add("n", b"5") is True
        assert await client.replace("missing", b"x") is False
        assert await client.replace("a", b"3") is True
        assert await client.incr("n", 4) == 9
        assert await client.decr("n", 20) == 0
        assert await client.incr("missing") is None
        assert await client.touch("a", 60) is True
        assert await client.touch("missing", 60) is False
        assert await client.delete("a") is True
        assert await client.delete("a") is False
        await client.flush_all()
        assert fake.data == {}

    run(scenario)


def test_namespace_is_prefixed_once() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        await client.set("k", b"v", 5)
        await client.get("k")
        assert fake.received == [b"set mt-k 0 5 1", b"get mt-k"]

    run(scenario, namespace="mt-")


@pytest.mark.parametrize("key", ["a b", "a\nb", "a\rb", "tab\t", "nul\0", "del\x7f", "nbsp\xa0", "x" * 248])
def test_keys_memcached_cannot_take_raise_key_error(key: str) -> None:
    client = MemcachedClient("127.0.0.1", namespace="mt-")
    with pytest.raises(MemcachedKeyError, match="hash it"):
        asyncio.run(client.get(key))


def test_empty_key_without_namespace_raises_key_error() -> None:
    with pytest.raises(MemcachedKeyError):
        asyncio.run(MemcachedClient("127.0.0.1").get(""))


def test_printable_unicode_keys_are_sent_as_utf8() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        assert await client.set("grüße", b"v") is True
        assert fake.received == ["set grüße 0 0 1".encode()]

    run(scenario)


def test_namespace_memcached_cannot_take_is_refused() -> None:
    with pytest.raises(MemcachedKeyError, match="namespace"):
        MemcachedClient("127.0.0.1", namespace="my space")


def test_concurrent_commands_are_pipelined_on_one_connection_in_order() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        await asyncio.gather(*(client.set(f"k{i}", b"%d" % i) for i in range(300)))
        values = await asyncio.gather(*(client.get(f"k{i}") for i in range(300)))
        assert values == [b"%d" % i for i in range(300)]
        assert fake.connections == 1

    run(scenario)


def test_answers_split_into_small_reads_are_put_together() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data[b"big"] = bytes(range(256)) * 20
        fake.chunk = 7
        values = await asyncio.gather(client.get("big"), client.incr("missing"), client.get("nothing"))
        assert list(values) == [bytes(range(256)) * 20, None, None]

    run(scenario)


def test_commands_beyond_max_in_flight_wait_for_answers() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.stall()
        commands = [asyncio.ensure_future(client.add(f"k{i}", b"v")) for i in range(10)]
        await fake.wait_received(4)
        fake.resume()
        assert await asyncio.gather(*commands) == [True] * 10
        assert fake.max_unanswered == 4

    run(scenario, max_in_flight=4)


def test_timeout_fails_every_pending_command_and_the_next_command_reconnects() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data[b"k"] = b"v"
        fake.stall()
        results = await asyncio.gather(*(client.get("k") for _ in range(20)), return_exceptions=True)
        assert all(isinstance(result, MemcachedTimeout) for result in results)
        assert "no answer within 0.2 s" in str(results[0])
        fake.resume()  # the stale answers go to the closed connection
        client.timeout = 10.0
        assert await client.get("k") == b"v"
        assert fake.connections == 2

    run(scenario, timeout=0.2)


def test_server_error_fails_only_its_command() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.script.extend([b"STORED\r\n", b"SERVER_ERROR object too large for cache\r\n"])
        first, second, third = await asyncio.gather(
            client.set("a", b"1"), client.set("b", b"2"), client.set("c", b"3"), return_exceptions=True
        )
        assert first is True and third is True
        assert isinstance(second, MemcachedServerError)
        assert "SERVER_ERROR object too large" in str(second)
        assert fake.connections == 1

    run(scenario)


@pytest.mark.parametrize("error_line", [b"ERROR\r\n", b"CLIENT_ERROR bad data chunk\r\n"])
def test_error_that_may_leave_the_stream_out_of_step_closes_the_connection(error_line: bytes) -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data[b"k"] = b"v"
        fake.stall()
        fake.script.append(error_line)
        commands = [asyncio.ensure_future(client.get("k")) for _ in range(3)]
        await fake.wait_received(3)
        fake.resume()
        results = await asyncio.gather(*commands, return_exceptions=True)
        assert isinstance(results[0], MemcachedServerError)
        assert [type(result) for result in results[1:]] == [MemcachedConnectionError] * 2
        assert await client.get("k") == b"v"
        assert fake.connections == 2

    run(scenario)


@pytest.mark.parametrize(
    "garbage",
    [b"HELLO\r\n", b"VALUE other 0 1\r\nx\r\nEND\r\n", b"VALUE k 0 1\r\nxyz\r\nEND\r\n", b"VALUE k 0 z\r\n"],
)
def test_answer_that_fits_no_command_fails_every_pending_one(garbage: bytes) -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.stall()
        fake.script.append(garbage)
        commands = [asyncio.ensure_future(client.get("k")) for _ in range(3)]
        await fake.wait_received(3)
        fake.resume()
        results = await asyncio.gather(*commands, return_exceptions=True)
        assert [type(result) for result in results] == [MemcachedProtocolError] * 3
        assert await client.get("k") is None

    run(scenario)


def test_unsolicited_answer_closes_the_connection() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.script.append(b"STORED\r\nSTORED\r\n")
        assert await client.set("k", b"v") is True
        assert await client.get("k") == b"v"
        assert fake.connections == 2

    run(scenario)


def test_connection_closed_mid_answer_resends_a_get_once() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data[b"k"] = b"value"
        fake.script.append(CLOSE_MID_ANSWER)
        assert await client.get("k") == b"value"
        assert fake.received == [b"get k", b"get k"]
        assert fake.connections == 2

    run(scenario)


def test_incr_is_not_resent_when_the_connection_closes() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data[b"n"] = b"1"
        fake.script.append(CLOSE_MID_ANSWER)
        with pytest.raises(MemcachedConnectionLost, match="closed by the server"):
            await client.incr("n")
        assert fake.received == [b"incr n 1"]

    run(scenario)


def test_a_command_is_resent_once_only() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.script.extend([CLOSE_MID_ANSWER, CLOSE_MID_ANSWER])
        with pytest.raises(MemcachedConnectionLost):
            await client.set("k", b"v")
        assert fake.received == [b"set k 0 0 1", b"set k 0 0 1"]

    run(scenario)


def test_restarted_server_is_used_again_without_a_failure() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        assert await client.set("k", b"v") is True
        await fake.stop()
        await fake.start()
        assert await client.get("k") is None
        assert await client.set("k", b"w") is True

    run(scenario)


def test_refused_connection_raises_connection_error_naming_the_server() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        await fake.stop()
        with pytest.raises(
            MemcachedConnectionError, match=f"memcached 127.0.0.1:{fake.port}: could not connect"
        ):
            await client.get("k")
        await fake.start()
        assert await client.get("k") is None

    run(scenario)


def test_connect_that_hangs_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        async def never(*args: object, **kwargs: object) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", never)
        results = await asyncio.gather(*(client.get("k") for _ in range(5)), return_exceptions=True)
        assert [type(result) for result in results] == [MemcachedTimeout] * 5
        monkeypatch.undo()
        client.connect_timeout = 10.0
        assert await client.get("k") is None

    run(scenario, connect_timeout=0.1)


def test_cancelled_command_keeps_later_answers_in_step() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.data.update({b"a": b"1", b"b": b"2"})
        fake.stall()
        first = asyncio.ensure_future(client.get("a"))
        second = asyncio.ensure_future(client.get("b"))
        await fake.wait_received(2)
        first.cancel()
        fake.resume()
        assert await second == b"2"
        assert first.cancelled()

    run(scenario)


def test_aclose_fails_pending_commands_and_a_later_command_connects_again() -> None:
    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        fake.stall()
        pending = asyncio.ensure_future(client.get("k"))
        await fake.wait_received(1)
        await client.aclose()
        with pytest.raises(MemcachedConnectionError, match="client closed"):
            await pending
        fake.resume()
        assert await client.get("k") is None
        assert fake.connections == 2

    run(scenario)


def test_incr_delta_outside_64_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="delta"):
        asyncio.run(MemcachedClient("127.0.0.1").incr("k", -1))


# --- answers never paired with the wrong command -------------------------------------------------


class RecordingTransport(asyncio.Transport):
    """Keeps what is written; never sends anything."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


def test_commands_sent_in_one_loop_pass_leave_in_one_write() -> None:
    async def scenario() -> None:
        connection = PipelinedConnection("fake:1", 60.0, deque())
        transport = RecordingTransport()
        connection.connection_made(transport)
        deadline = asyncio.get_running_loop().time() + 60
        connection.send(b"add lock_a 0 10 1\r\nx\r\n", STORE_ANSWERS, deadline)
        connection.send(b"get a\r\n", b"a", deadline)
        assert transport.written == []  # nothing until the loop pass ends
        await asyncio.sleep(0)
        assert transport.written == [b"add lock_a 0 10 1\r\nx\r\nget a\r\n"]
        connection.send(b"delete lock_a\r\n", DELETE_ANSWERS, deadline)
        await asyncio.sleep(0)
        assert transport.written[1:] == [b"delete lock_a\r\n"]

    asyncio.run(scenario())


KEYS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20).map(str.encode)
VALUES = st.binary(max_size=40) | st.sampled_from([b"", b"\r\nEND\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n"])
#: (what the command expects, the answer on the wire, the command's result)
ANSWERS = st.one_of(
    st.tuples(KEYS, VALUES).map(
        lambda kv: (kv[0], b"VALUE %b 0 %d\r\n%b\r\nEND\r\n" % (kv[0], len(kv[1]), kv[1]), kv[1])
    ),
    KEYS.map(lambda key: (key, b"END\r\n", None)),
    st.sampled_from(sorted(STORE_ANSWERS.items())).map(
        lambda item: (STORE_ANSWERS, item[0] + b"\r\n", item[1])
    ),
    st.sampled_from(sorted(DELETE_ANSWERS.items())).map(
        lambda item: (DELETE_ANSWERS, item[0] + b"\r\n", item[1])
    ),
    st.integers(0, 2**64 - 1).map(lambda number: (None, b"%d\r\n" % number, number)),
    st.just((None, b"NOT_FOUND\r\n", None)),
)


@given(answers=st.lists(ANSWERS, min_size=1, max_size=30), cuts=st.lists(st.integers(0, 2000), max_size=60))
def test_answers_split_anywhere_resolve_their_own_commands(
    answers: list[tuple[Expect, bytes, Any]], cuts: list[int]
) -> None:
    async def scenario() -> None:
        connection = PipelinedConnection("fake:1", 60.0, deque())
        connection.connection_made(RecordingTransport())
        deadline = asyncio.get_running_loop().time() + 60
        futures = [connection.send(b"command", expect, deadline) for expect, _, _ in answers]
        stream = b"".join(wire for _, wire, _ in answers)
        bounds = sorted({0, len(stream), *(cut for cut in cuts if cut < len(stream))})
        for start, end in itertools.pairwise(bounds):
            connection.data_received(stream[start:end])
        assert [future.result() for future in futures] == [result for _, _, result in answers]
        assert not connection.pending and not connection.closed

    asyncio.run(scenario())


COMMAND_KINDS = ["get", "get_missing", "set", "add_existing", "delete", "incr", "touch_missing"]


async def _one_command(client: MemcachedClient, kind: str, key: str) -> tuple[Any, Any]:
    """Run one command on its own key; (what it returned, what it must return if it succeeds)."""
    expected: dict[str, Any] = {
        "get": key.encode() * 3,
        "get_missing": None,
        "set": True,
        "add_existing": False,
        "delete": True,
        "incr": int(key.removeprefix("k")) + 1,
        "touch_missing": False,
    }
    commands: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "get": lambda: client.get(key),
        "get_missing": lambda: client.get(key + "-missing"),
        "set": lambda: client.set(key, b"new"),
        "add_existing": lambda: client.add(key, b"new"),
        "delete": lambda: client.delete(key),
        "incr": lambda: client.incr(key),
        "touch_missing": lambda: client.touch(key + "-missing", 10),
    }
    return await commands[kind](), expected[kind]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    commands=st.lists(
        st.tuples(
            st.sampled_from(COMMAND_KINDS), st.sampled_from([0, 0, 0, 0.001, 0.003, 0.2]), st.integers(0, 3)
        ),
        min_size=1,
        max_size=40,
    ),
    chunk=st.sampled_from([0, 1, 3, 17]),
)
def test_answers_never_reach_the_wrong_command(commands: list[tuple[str, float, int]], chunk: int) -> None:
    """Random commands, each on its own key, started in random waves; the fake splits answers into
    small writes and holds some back past the timeout. Every command either fails with a connection
    error or gets exactly its own answer."""

    async def scenario(fake: FakeMemcached, client: MemcachedClient) -> None:
        keys = [f"k{i}" for i in range(len(commands))]
        fake.data.update(
            {
                key.encode(): key.encode() * 3 if kind != "incr" else key[1:].encode()
                for key, (kind, _, _) in zip(keys, commands, strict=True)
            }
        )
        delays = {f"k{i}".encode(): delay for i, (_, delay, _) in enumerate(commands)}
        fake.delay = lambda line: delays.get(line.split(b" ")[1].removesuffix(b"-missing"), 0.0)
        fake.chunk = chunk

        async def started_after(rounds: int, kind: str, key: str) -> tuple[Any, Any]:
            for _ in range(rounds):
                await asyncio.sleep(0)
            return await _one_command(client, kind, key)

        outcomes = await asyncio.gather(
            *(
                started_after(rounds, kind, key)
                for key, (kind, _, rounds) in zip(keys, commands, strict=True)
            ),
            return_exceptions=True,
        )
        event(
            "some commands failed" if any(isinstance(o, BaseException) for o in outcomes) else "all answered"
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                assert isinstance(outcome, (MemcachedTimeout, MemcachedConnectionError)), outcome
            else:
                got, expected = outcome
                assert got == expected

    run(scenario, timeout=0.05)


def test_errors_are_memcached_errors() -> None:
    assert issubclass(MemcachedKeyError, (MemcachedError, ValueError))
    assert issubclass(MemcachedConnectionLost, MemcachedConnectionError)

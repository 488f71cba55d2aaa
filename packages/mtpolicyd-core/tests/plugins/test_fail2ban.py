import pickle
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.plugins.fail2ban import END_MARKER, ban_command, decode_reply
from mtpolicyd_core.request import Request, Session

from plugins.chain_answer import answer

ORIGINAL = (
    b"\x80\x02]q\x00(U\x03setq\x01U\x07postfixq\x02U\x05banipq\x03"
    b"U\x0f123.123.123.123q\x04e.<F2B_END_COMMAND>"
)


def test_ban_command_is_byte_for_byte_the_original() -> None:
    assert ban_command("postfix", "123.123.123.123") == ORIGINAL


@given(st.text(min_size=0, max_size=300), st.text(max_size=45))
def test_ban_command_unpickles_to_the_command_list(jail: str, address: str) -> None:
    command = ban_command(jail, address)
    assert command.endswith(END_MARKER)
    decoded = pickle.loads(command.removesuffix(END_MARKER), encoding="utf-8", errors="surrogateescape")
    assert decoded == ["set", jail, "banip", address]


def test_reply_with_globals_is_refused() -> None:
    class Evil:
        def __reduce__(self) -> tuple[Callable[..., None], tuple[str]]:
            return (print, ("owned",))

    with pytest.raises(pickle.UnpicklingError, match="refused"):
        decode_reply(pickle.dumps(Evil()) + END_MARKER)


def test_plain_reply_is_decoded() -> None:
    assert decode_reply(pickle.dumps((0, "192.0.2.1"), protocol=2) + END_MARKER) == (0, "192.0.2.1")


@pytest.fixture
def fail2ban_socket(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    path = str(tmp_path / "f2b.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(5)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while END_MARKER not in data:
                    data += conn.recv(4096)
                received.append(data)
                conn.sendall(pickle.dumps((0, 1), protocol=2) + END_MARKER)

    threading.Thread(target=serve, daemon=True).start()
    yield path, received
    listener.close()


async def test_fail2ban_bans_client_once_per_mail(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], fail2ban_socket: tuple[str, list[bytes]]
) -> None:
    path, received = fail2ban_socket
    plugin = build_plugin(block("f2b", module="Fail2Ban", socket=path, jail="postfix"))
    session: Session = {}
    assert await plugin.run(Request({"client_address": "123.123.123.123"}, session)) == []
    assert await plugin.run(Request({"client_address": "123.123.123.123"}, session)) == []
    assert received == [ORIGINAL]


async def test_fail2ban_disabled_by_user_config(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], fail2ban_socket: tuple[str, list[bytes]]
) -> None:
    path, received = fail2ban_socket
    plugin = build_plugin(block("f2b", module="Fail2Ban", socket=path, uc_enabled="ban"))
    await answer(plugin, Request({"client_address": "192.0.2.1"}, {"ban": "off"}))
    assert received == []


async def test_fail2ban_unreachable_socket_fails_the_plugin(
    block: Callable[..., Block], build_plugin: Callable[..., Plugin], tmp_path: Path
) -> None:
    plugin = build_plugin(block("f2b", module="Fail2Ban", socket=str(tmp_path / "none.sock")))
    with pytest.raises(ConnectionError, match="cant connect fail2ban socket"):
        await plugin.run(Request({"client_address": "192.0.2.1"}, {}))

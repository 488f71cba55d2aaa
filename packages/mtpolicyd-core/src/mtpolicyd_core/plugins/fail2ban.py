"""Fail2Ban: bans the client address in a fail2ban jail through the fail2ban server's socket.

fail2ban's socket speaks Python pickles ended by ``<F2B_END_COMMAND>``. The command
is encoded by hand, byte for byte as the original sends it; the reply is decoded
with an unpickler that refuses every global, so it can only give plain data.
"""

from __future__ import annotations

import asyncio
import io
import pickle
import struct
from typing import Any

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.switch import Switchable

END_MARKER = b"<F2B_END_COMMAND>"
#: seconds to wait for the fail2ban server
FAIL2BAN_TIMEOUT = 5.0
MAX_REPLY = 64 * 1024


def _pickle_string(text: str, memo: int) -> bytes:
    """A protocol-2 byte string (as Python 2 pickled ``str``) followed by its memo entry."""
    data = text.encode("utf-8", errors="surrogateescape")
    if len(data) < 256:
        encoded = b"U" + bytes([len(data)]) + data
    else:
        encoded = b"T" + struct.pack("<I", len(data)) + data
    return encoded + b"q" + bytes([memo])


def ban_command(jail: str, address: str) -> bytes:
    """The pickled ``["set", jail, "banip", address]`` command with its end marker."""
    items = b"".join(
        _pickle_string(text, memo) for memo, text in enumerate(("set", jail, "banip", address), 1)
    )
    return b"\x80\x02]q\x00(" + items + b"e." + END_MARKER


class PlainDataUnpickler(pickle.Unpickler):
    """Unpickles only built-in data (numbers, strings, lists, tuples, dicts): no class is ever loaded."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"fail2ban reply refers to {module}.{name}: refused")


def decode_reply(reply: bytes) -> Any:
    """The fail2ban server's reply (``(code, result)``), decoded safely."""
    return PlainDataUnpickler(io.BytesIO(reply.removesuffix(END_MARKER)), encoding="latin-1").load()


class Fail2Ban(Switchable, Plugin):
    """Bans client_address in the fail2ban ``jail`` via the fail2ban server's unix ``socket``
    (like ``fail2ban-client set <jail> banip <address>``), once per mail. Use it at the end
    of a chain, e.g. in the nested chain of a ScoreAction; it gives no action.
    """

    socket = Option(STR, default="/var/run/fail2ban/fail2ban.sock", doc="unix socket of the fail2ban server")
    jail = Option(STR, default="postfix", doc="jail the address is banned in")

    async def run(self, request: Request) -> list[PluginResult]:
        address = request.attr("client_address")
        if address is None:
            self.debug(request, "no client_address in request, nothing to ban")
            return []
        if not request.is_already_done(f"{self.name}-fail2ban"):
            self.debug(request, f"adding ip {address} to fail2ban jail {self.jail}")
            await self.ban(address)
        return []

    async def ban(self, address: str) -> None:
        """Send the ban command and check the server's reply."""
        try:
            async with asyncio.timeout(FAIL2BAN_TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(self.socket)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"cant connect fail2ban socket: {error}") from None
        try:
            writer.write(ban_command(self.jail, address))
            reply = await read_reply(reader)
        finally:
            writer.close()
        if not reply:
            return
        try:
            answer = decode_reply(reply)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
            self.logger.warning("unreadable reply from fail2ban: %s", error)
            return
        if isinstance(answer, tuple) and answer and answer[0] != 0:
            self.logger.error("fail2ban refused to ban %s in jail %s: %r", address, self.jail, answer[1:])


async def read_reply(reader: asyncio.StreamReader) -> bytes:
    """The reply up to the end marker (empty when the server closes without one or is slow)."""
    reply = b""
    try:
        async with asyncio.timeout(FAIL2BAN_TIMEOUT):
            while END_MARKER not in reply and len(reply) < MAX_REPLY:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                reply += chunk
    except (TimeoutError, OSError):
        return b""
    return reply

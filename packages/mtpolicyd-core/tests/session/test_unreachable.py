"""Every back-end turns an unreachable or silent server into SessionError, not into a hang."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from mtpolicyd_core.config.model import ConnectionConfig, SessionCacheConfig
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import SessionError
from mtpolicyd_core.session.factory import build_session_cache

#: far beyond every back-end's own timeout: only a hang reaches it
HANG = 60


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("module", "options"),
    [
        ("Memcached", lambda port, _tmp: {"servers": f"127.0.0.1:{port}"}),
        ("Redis", lambda port, _tmp: {"server": f"127.0.0.1:{port}"}),
        ("Sql", lambda port, _tmp: {"url": f"mysql+pymysql://u:p@127.0.0.1:{port}/db"}),
        ("Sql", lambda _port, tmp: {"url": f"sqlite:///{tmp}/missing-dir/db.sqlite"}),
    ],
)
async def test_unreachable_back_end_raises_session_error(
    tmp_path: Path, module: str, options: Callable[[int, Path], dict[str, str]]
) -> None:
    settings = options(closed_port(), tmp_path)
    connections = ConnectionPool([ConnectionConfig("conn", module, settings)])
    cache = build_session_cache(SessionCacheConfig(module=module, connection="conn"), connections)
    async with asyncio.timeout(HANG):
        for _ in range(3):
            with pytest.raises(SessionError, match="instance=abc"):
                await cache.retrieve("abc")
    await cache.aclose()


@pytest.mark.parametrize(
    ("module", "options"),
    [
        ("Memcached", lambda port: {"servers": f"127.0.0.1:{port}"}),
        ("Redis", lambda port: {"server": f"127.0.0.1:{port}"}),
        ("Sql", lambda port: {"url": f"mysql+pymysql://u:p@127.0.0.1:{port}/db", "timeout": "2"}),
    ],
)
async def test_silent_server_times_out_into_session_error(
    module: str, options: Callable[[int], dict[str, str]]
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings = options(silent.getsockname()[1])
        connections = ConnectionPool([ConnectionConfig("conn", module, settings)])
        cache = build_session_cache(SessionCacheConfig(module=module, connection="conn"), connections)
        async with asyncio.timeout(HANG):
            with pytest.raises(SessionError):
                await cache.retrieve("abc")
        await cache.aclose()

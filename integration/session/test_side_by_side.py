"""The Perl daemon and ours on one memcached with one config, as during a migration: neither reads
the other's sessions (Perl dies on a JSON session; we would start afresh on a Storable one), and
both still share what is meant to be shared, e.g. greylisting tickets."""

from __future__ import annotations

import socket
import uuid

from integration.fixtures.memcached import MemcachedServer
from integration.fixtures.plugin import DaemonFactory
from integration.test_differential_control import KEEPALIVE, MEMCACHED_SESSIONS, SERVER

CONFIG = SERVER + MEMCACHED_SESSIONS + KEEPALIVE

FIRST = ["action=PREPEND X-MtScore: NO score=1 [count=1]"]
LATER = ["action=dunno"]


def memcached_get(server: MemcachedServer, key: str) -> tuple[int, bytes] | None:
    """(flags, value) stored at ``key``, or None: one plain ``get`` on a fresh connection."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"get {key}\r\n".encode())
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "memcached closed the connection"
            data += chunk
    if not data.startswith(b"VALUE "):
        return None
    header, _, rest = data.partition(b"\r\n")
    _, _, flags, length = header.split()
    return int(flags), rest[: int(length)]


def test_both_daemons_on_one_memcached_with_one_config_keep_their_sessions_apart(
    perl_mtpolicyd: DaemonFactory, python_mtpolicyd: DaemonFactory, memcached_server: MemcachedServer
) -> None:
    values = {"memcached": memcached_server.address, "namespace": f"mt-{uuid.uuid4().hex[:8]}-"}
    perl = perl_mtpolicyd(CONFIG, **values)
    python = python_mtpolicyd(CONFIG, **values)
    mail = uuid.uuid4().hex[:12]
    request = {"request": "smtpd_access_policy", "protocol_state": "RCPT", "instance": mail, "queue_id": "A"}
    # The same mail asked of both, in turns: each answers as it would alone (header once per mail).
    answers = [daemon.request(request) for daemon in (perl, python, perl, python, perl)]
    assert answers == [FIRST, FIRST, LATER, LATER, LATER]
    perl_session = memcached_get(memcached_server, values["namespace"] + mail)
    our_session = memcached_get(memcached_server, values["namespace"] + "py:" + mail)
    assert perl_session is not None and perl_session[0] & 1  # Storable
    assert our_session is not None and our_session[1].startswith(b"{")  # JSON
    assert perl.running() and "error" not in perl.log_text().lower()

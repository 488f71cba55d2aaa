"""``<Connection> module = "Ldap"``: an ldap3 Connection (ldap3 is imported only when used)."""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.connections.configured import SWITCH, ConfiguredConnection, ConnectionOptionError
from mtpolicyd_core.errors import ConnectionUnavailable
from mtpolicyd_core.options import INT, STR, Option, maybe
from mtpolicyd_core.runtime.optional import import_extra

log = logging.getLogger("mtpolicyd.ldap")


class LdapConnection(ConfiguredConnection):
    """An LDAP server through ldap3 (searches run on the worker's thread pool, one at a time)."""

    module = "Ldap"

    host = Option(STR, default="localhost", doc="LDAP server host")
    port = Option(INT, default="389", doc="LDAP server port")
    keepalive = Option(SWITCH, default="1", doc="accepted as in the original; ignored")
    timeout = Option(INT, default="120", doc="seconds to connect and to wait for an answer")
    binddn = Option(maybe(STR), doc="DN to bind as (anonymous without)")
    password = Option(maybe(STR), doc="password of `binddn`")
    starttls = Option(SWITCH, default="1", doc="switch to TLS (certificate checked) after connecting")
    connection_class = Option(maybe(STR), doc="accepted as in the original; ignored")

    def __init__(self, config: ConnectionConfig) -> None:
        import_extra("ldap3", f"connection {config.name} (module Ldap)", config.location)
        super().__init__(config)
        self._connection: Any = None
        self._lock = threading.Lock()

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise ConnectionOptionError("port", f"port must be 1 to 65535, not {self.port}")
        if self.timeout <= 0:
            raise ConnectionOptionError(
                "timeout", f"timeout must be a positive number of seconds, not {self.timeout}"
            )

    def describe(self) -> str:
        """``ldap NAME (host:port)`` for error messages."""
        return f"ldap {self.name} ({self.host}:{self.port})"

    @property
    def handle(self) -> Any:
        """A bound ldap3 Connection; re-opened when the previous one was closed."""
        if self._connection is None or self._connection.closed:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> Any:
        try:
            import ldap3  # noqa: PLC0415 - optional dependency, needed only with an Ldap connection
        except ImportError as error:
            missing = f"{self.describe()}: the Python package ldap3 is not installed"
            raise ConnectionUnavailable(missing) from error
        try:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED) if self.starttls else None
            server = ldap3.Server(self.host, port=self.port, connect_timeout=self.timeout, tls=tls)
            connection = ldap3.Connection(
                server,
                user=self.binddn,
                password=self.password,
                receive_timeout=self.timeout,
                raise_exceptions=True,
            )
            connection.open()
            if self.starttls:
                connection.start_tls()
        except ldap3.core.exceptions.LDAPException as error:
            raise ConnectionUnavailable(f"{self.describe()}: {error}") from error
        try:
            connection.bind()
        except ldap3.core.exceptions.LDAPException as error:  # as Net::LDAP: searches go on unbound
            log.warning("%s: bind failed: %s", self.describe(), error)
        return connection

    def ensure_open(self) -> None:
        """Connect now (blocking). As in the original, a server that cannot be reached or a failed
        STARTTLS raises ConnectionUnavailable; a failed bind does not."""
        with self._lock:
            _ = self.handle

    def search(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[dict[str, Any]]:
        """The entries a search finds (blocking: call it on the thread pool; one search at a time)."""
        with self._lock:
            ldap = self.handle
            ldap.search(base, search_filter, attributes=list(attributes))
            return [item for item in ldap.response or [] if item.get("type") == "searchResEntry"]

    def reconnect(self) -> None:
        """Forget the connection (after fork its socket is the parent's); the next use opens a new one."""
        self._connection = None
        self._lock = threading.Lock()

    async def aclose(self) -> None:
        """Unbind, ignoring a connection that is already gone."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):  # the server may be gone already
                connection.unbind()

"""``<Connection> module = "Ldap"``: an ldap3 Connection (ldap3 is imported only when used)."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.errors import ConnectionUnavailable
from mtpolicyd_core.optional import import_extra

TRUE_WORDS = ("1", "true", "yes", "on")


class LdapConnection:
    """Options as the original: ``host``, ``port`` (389), ``timeout`` (120), ``binddn``, ``password``,
    ``starttls`` (on, certificate required); ``keepalive`` and ``connection_class`` are accepted, unused."""

    def __init__(self, config: ConnectionConfig) -> None:
        import_extra("ldap3", f"connection {config.name} (module Ldap)", config.location)
        options = config.options
        self.name = config.name
        self.host = options.get("host", "localhost")
        self.port = int(options.get("port", "389"))
        self.timeout = int(options.get("timeout", "120"))
        self.binddn = options.get("binddn")
        self.password = options.get("password")
        self.starttls = options.get("starttls", "1").lower() in TRUE_WORDS
        self._connection: Any = None
        self._lock = threading.Lock()

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
            connection.bind()
        except ldap3.core.exceptions.LDAPException as error:
            raise ConnectionUnavailable(f"{self.describe()}: {error}") from error
        return connection

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

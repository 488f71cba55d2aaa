"""Named back-end connections (SQL, memcached, Redis, LDAP) shared by plugins and sessions."""

from mtpolicyd_core.connections.pool import Connection, ConnectionPool

__all__ = ["Connection", "ConnectionPool"]

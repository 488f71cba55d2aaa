"""Exception classes carrying what a mail admin needs to find the fault."""

from __future__ import annotations


class MtPolicydError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(MtPolicydError):
    """A configuration file is malformed or invalid; names file and line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file} line {self.line}: {self.message}"


class PluginError(MtPolicydError):
    """A plugin failed while answering a request."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin} failed: {message}")


class SessionError(MtPolicydError):
    """The session back-end failed: unreachable, or the lock could not be had."""


class SessionLockError(SessionError):
    """The session lock could not be acquired within the retries."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        super().__init__(f"could not acquire lock for session {instance}")


class ConnectionUnavailable(MtPolicydError):
    """A named back-end connection (SQL, memcached, Redis, LDAP) is not usable."""

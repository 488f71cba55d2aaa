"""An in-process key/value back-end with a fake clock, for unit tests of the session protocol."""

from __future__ import annotations

from mtpolicyd_core.session.steps import OneAfterAnother


class BackendDown(Exception):
    """What the fake back-end raises while it is "unreachable"."""


class FakeBackend(OneAfterAnother):
    """Dict with expiry; ``down`` makes every call fail; ``calls`` records what was asked."""

    errors: tuple[type[BaseException], ...] = (BackendDown,)
    hash_tags = False

    def __init__(self) -> None:
        self.now = 0.0
        self.data: dict[str, tuple[bytes, float]] = {}
        self.calls: list[tuple[str, str]] = []
        self.down: set[str] = set()
        self.ttls: dict[str, int] = {}

    def describe(self) -> str:
        return "fake"

    def _call(self, what: str, key: str) -> None:
        self.calls.append((what, key))
        if what in self.down or "all" in self.down:
            raise BackendDown(f"{what} failed")

    def _live(self, key: str) -> bytes | None:
        entry = self.data.get(key)
        if entry is None or entry[1] <= self.now:
            return None
        return entry[0]

    async def add_lock(self, key: str, token: str, ttl: int) -> bool:
        self._call("add_lock", key)
        if self._live(key) is not None:
            return False
        self.data[key] = (token.encode(), self.now + ttl)
        self.ttls[key] = ttl
        return True

    async def delete_lock(self, key: str, token: str) -> None:
        self._call("delete_lock", key)
        if self._live(key) == token.encode():
            del self.data[key]

    async def get(self, key: str) -> bytes | None:
        self._call("get", key)
        return self._live(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self._call("set", key)
        self.data[key] = (value, self.now + ttl)
        self.ttls[key] = ttl

    def reconnect(self) -> None:
        self.calls.append(("reconnect", ""))

    async def aclose(self) -> None:
        self.calls.append(("close", ""))

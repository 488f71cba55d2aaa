"""The DNS resolver of one process: its settings read once, the stub made in the loop that first asks.

A worker's resolver must not exist before the fork (its sockets and loop are the
worker's), so the engine holds this and each worker makes its stub on first use.
"""

from __future__ import annotations

from mtpolicyd_core.lookups.resolver import DnsAnswer, DnsResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig


class ProcessResolver:
    """``query`` through this process's stub resolver; ``describe`` for ``-d`` without making one."""

    def __init__(self, config: ResolverConfig | None = None) -> None:
        self.config = config if config is not None else ResolverConfig.from_system()
        self._resolver: DnsResolver | None = None

    def current(self) -> DnsResolver:
        """The stub of this process, made now if needed (call it from the running loop)."""
        if self._resolver is None:
            self._resolver = DnsResolver(self.config)
        return self._resolver

    async def query(self, name: str, rdtype: int) -> DnsAnswer:
        """The answer for ``name``/``rdtype``; DnsLookupError when there is none."""
        return await self.current().query(name, rdtype)

    def describe(self) -> str:
        """Servers, timeouts and cache bounds."""
        return self.config.describe()

    def after_fork(self) -> None:
        """Forget the parent's stub (a worker makes its own)."""
        self._resolver = None

    async def aclose(self) -> None:
        """Close the stub's sockets."""
        if self._resolver is not None:
            resolver, self._resolver = self._resolver, None
            await resolver.aclose()

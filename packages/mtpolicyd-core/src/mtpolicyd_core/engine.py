"""The policy engine: from request attributes to a chain result, sessions included.

The server owns sockets and timing; the engine owns vhost selection, the
session lock protocol around the chain, and the failure policies. Everything a
request waits on is awaited, so a worker keeps many requests in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.model import Config
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import PluginError, SessionError
from mtpolicyd_core.lookups.process_resolver import ProcessResolver
from mtpolicyd_core.lookups.resolver_config import ResolverConfig
from mtpolicyd_core.plugin import PluginContext
from mtpolicyd_core.reports.startup_report import check_session_cache, log_dialect
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import ChainResult, PluginResult
from mtpolicyd_core.runtime.blocking import BlockingCalls
from mtpolicyd_core.runtime.log_context import request_context
from mtpolicyd_core.session.base import NoSessionCache, SessionCache
from mtpolicyd_core.session.factory import build_session_cache
from mtpolicyd_core.vhost import VirtualHost

log = logging.getLogger("mtpolicyd.engine")


class RequestFailed(Exception):
    """The request cannot be answered; the server closes the connection (Postfix defers).

    Its text is the original's (``plugin NAME failed: …``, ``could not acquire lock
    for session …``); ``plugin`` names the failing plugin when there is one.
    """

    def __init__(self, message: str, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class PolicyEngine:
    """Vhosts, connections, the DNS resolver, the thread pool and the session cache of one config."""

    def __init__(
        self, config: Config, session_cache: SessionCache | None = None, dns: ProcessResolver | None = None
    ) -> None:
        self.config = config
        self.connections = ConnectionPool(config.connections)
        self.blocking = BlockingCalls(config.server.worker_threads)
        server = config.server
        self.dns = dns or ProcessResolver(
            ResolverConfig.from_system(
                cache_size=server.dns_cache_size, max_cache_ttl=server.dns_cache_max_ttl
            )
        )
        self.warnings: list[str] = []
        self.vhosts: tuple[VirtualHost, ...] = tuple(self._build_vhosts())
        self._by_port = {vhost.port: vhost for vhost in self.vhosts}
        self._by_name = {vhost.name: vhost for vhost in reversed(self.vhosts)}
        self.session_cache = session_cache or build_session_cache(config.session_cache, self.connections)

    def _build_vhosts(self) -> Iterable[VirtualHost]:
        for vhost_config in self.config.vhosts:
            context = PluginContext(
                vhost_name=vhost_config.name,
                dialect=self.config.dialect,
                connections=self.connections,
                build_chain=build_chain,
                warnings=self.warnings,
                blocking=self.blocking,
                dns=self.dns,
            )
            chain = build_chain(vhost_config.plugins, context)
            yield VirtualHost(vhost_config.port, vhost_config.name, chain, vhost_config.parallel_dns)

    def vhost_for(self, port: int | str, attributes: Mapping[str, str]) -> VirtualHost | None:
        """The vhost for a request on local ``port``; 2.x may select by ``policy_context``."""
        if self.config.server.vhost_by_policy_context:
            context = attributes.get("policy_context")
            if context and context in self._by_name:
                return self._by_name[context]
        return self._by_port.get(str(port))

    async def process(self, vhost: VirtualHost, attributes: Mapping[str, str]) -> ChainResult:
        """Lock and load the session, run the chain, store and unlock (also on failure or timeout).

        Raises RequestFailed when the request must not be answered (plugin
        failure, or a session failure with failure mode ``close``).
        """
        instance = attributes.get("instance")
        with request_context(vhost.name, instance):
            session: Session | None = None
            if isinstance(self.session_cache, NoSessionCache):
                session = await self.session_cache.retrieve(instance)
            elif instance is not None:
                try:
                    session = await self.session_cache.retrieve(instance)
                except SessionError as error:
                    fallback = self._session_failure(vhost, instance, error)
                    if fallback is not None:
                        return fallback
            request = Request(attributes, session, vhost_name=vhost.name)
            try:
                if vhost.parallel_dns:
                    vhost.chain.prefetch(request)
                return await vhost.chain.run(request)
            except PluginError as error:
                raise RequestFailed(str(error), error.plugin) from error
            except Exception as error:
                raise RequestFailed(str(error) or type(error).__name__) from error
            finally:
                request.cancel_prefetched()
                if session is not None:
                    await self._store(vhost, session)

    def _session_failure(self, vhost: VirtualHost, instance: str, error: SessionError) -> ChainResult | None:
        """Apply the configured session failure policy: a fallback answer, or None to go on."""
        policy = self.config.session_cache
        if policy.failure_mode == "close":  # the server logs it as the original does
            raise RequestFailed(str(error)) from error
        log.error("session cache failed: %s (failure mode %s)", error, policy.failure_mode)
        if policy.failure_mode == "continue":
            return None
        return ChainResult([PluginResult(policy.failure_action, abort=True)], last_match="session-cache")

    async def _store(self, vhost: VirtualHost, session: Session) -> None:
        try:
            await self.session_cache.store(session)
        except SessionError as error:
            log.error("could not store session: %s", error)

    async def startup(self) -> None:
        """Let every plugin check its back-ends (create tables …), then close what that opened.

        Run once in the master before workers are forked, like the original's
        start-up checks; ConfigError names the plugin's file and line. Tells the
        dialect read and whether the session back-end answers.
        """
        try:
            log_dialect(self.config)
            for vhost in self.vhosts:
                await vhost.chain.startup()
            await check_session_cache(self.config, self.session_cache)
        finally:
            await self.aclose()

    def after_fork(self) -> None:
        """Forget the parent's back-end clients and threads in a new worker."""
        self.connections.reconnect()
        self.session_cache.reconnect()
        self.dns.after_fork()
        self.blocking.after_fork()

    async def cron(self, tasks: Iterable[str]) -> None:
        """Run the periodic tasks of every plugin of every vhost."""
        task_list = list(tasks)
        for vhost in self.vhosts:
            await vhost.chain.cron(task_list)

    async def aclose(self) -> None:
        """Close the session cache, every connection, the resolver and the thread pool."""
        await self.session_cache.aclose()
        await self.connections.aclose()
        await self.dns.aclose()
        self.blocking.close()

"""The policy engine: from request attributes to a chain result, sessions included.

The server owns sockets and timing; the engine owns vhost selection, the
session lock protocol around the chain, and the failure policies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from mtpolicyd_core.chain import build_chain
from mtpolicyd_core.config.model import Config
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.errors import SessionError
from mtpolicyd_core.plugin import PluginContext
from mtpolicyd_core.request import Request, Session
from mtpolicyd_core.result import ChainResult, PluginResult
from mtpolicyd_core.session.base import NoSessionCache, SessionCache
from mtpolicyd_core.session.factory import build_session_cache
from mtpolicyd_core.vhost import VirtualHost

log = logging.getLogger("mtpolicyd.engine")


class RequestFailed(Exception):
    """The request cannot be answered; the server closes the connection (Postfix defers)."""


class PolicyEngine:
    """Vhosts, connections and the session cache built from one configuration."""

    def __init__(self, config: Config, session_cache: SessionCache | None = None) -> None:
        self.config = config
        self.connections = ConnectionPool(config.connections)
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
            )
            chain = build_chain(vhost_config.plugins, context)
            yield VirtualHost(vhost_config.port, vhost_config.name, chain)

    def vhost_for(self, port: int | str, attributes: Mapping[str, str]) -> VirtualHost | None:
        """The vhost for a request on local ``port``; 2.x may select by ``policy_context``."""
        if self.config.server.vhost_by_policy_context:
            context = attributes.get("policy_context")
            if context and context in self._by_name:
                return self._by_name[context]
        return self._by_port.get(str(port))

    def process(self, vhost: VirtualHost, attributes: Mapping[str, str]) -> ChainResult:
        """Lock and load the session, run the chain, store and unlock (also on failure).

        Raises RequestFailed when the request must not be answered (plugin
        failure, or a session failure with failure mode ``close``).
        """
        instance = attributes.get("instance")
        session: Session | None = None
        if isinstance(self.session_cache, NoSessionCache):
            session = self.session_cache.retrieve(instance)
        elif instance is not None:
            try:
                session = self.session_cache.retrieve(instance)
            except SessionError as error:
                fallback = self._session_failure(vhost, instance, error)
                if fallback is not None:
                    return fallback
        request = Request(attributes, session, vhost_name=vhost.name)
        try:
            return vhost.chain.run(request)
        except Exception as error:
            raise RequestFailed(f"{vhost.name}: instance={instance}: {error}") from error
        finally:
            if session is not None:
                self._store(vhost, session)

    def _session_failure(self, vhost: VirtualHost, instance: str, error: SessionError) -> ChainResult | None:
        """Apply the configured session failure policy: a fallback answer, or None to go on."""
        policy = self.config.session_cache
        log.error("%s: instance=%s: session cache failed: %s (failure mode %s)",
                  vhost.name, instance, error, policy.failure_mode)
        if policy.failure_mode == "continue":
            return None
        if policy.failure_mode == "action":
            return ChainResult([PluginResult(policy.failure_action, abort=True)], last_match="session-cache")
        raise RequestFailed(f"{vhost.name}: instance={instance}: {error}") from error

    def _store(self, vhost: VirtualHost, session: Session) -> None:
        try:
            self.session_cache.store(session)
        except SessionError as error:
            log.error("%s: instance=%s: could not store session: %s",
                      vhost.name, session.get("_instance"), error)

    def after_fork(self) -> None:
        """Re-open back-end connections in a new worker."""
        self.connections.reconnect()
        self.session_cache.reconnect()

    def cron(self, tasks: Iterable[str]) -> None:
        """Run the periodic tasks of every plugin of every vhost."""
        task_list = list(tasks)
        for vhost in self.vhosts:
            vhost.chain.cron(task_list)

    def close(self) -> None:
        """Close the session cache and every connection."""
        self.session_cache.close()
        self.connections.close()

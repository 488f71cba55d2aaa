"""A local Redis primary with a replica, watched by three Sentinels (quorum 2) that fail it over quickly.

Sentinels count a primary down after ``down_after_ms`` (1 s by default) and promote the replica; a
killed primary started again is turned into a replica of the new one. Local binaries only.
"""

from __future__ import annotations

import time
from pathlib import Path

from policy_sim.services.redis_cluster import NO_DISK, SETTLE_TIMEOUT, RedisNode
from policy_sim.services.resp import RespError, info

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000


class RedisSentinelServers:
    """``sentinels`` (for ``sentinels = …``), ``service``; ``primary()``, ``kill_primary()``,
    ``wait_for_failover()``."""

    kind = "redis-sentinel"

    def __init__(self, workdir: Path, sentinels: int = 3, down_after_ms: int = DOWN_AFTER_MS) -> None:
        self.service = SERVICE
        self.first_primary = RedisNode(workdir, "redis-primary", lambda _node: list(NO_DISK))
        primary = self.first_primary
        self.replica = RedisNode(
            workdir, "redis-replica", lambda _node: [*NO_DISK, "--replicaof", primary.host, str(primary.port)]
        )
        quorum = sentinels // 2 + 1

        def sentinel_config(node: RedisNode) -> str:
            return (
                f"port {node.port}\n"
                f"sentinel monitor {SERVICE} {primary.host} {primary.port} {quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} {max(3 * down_after_ms, 3000)}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )

        self.sentinel_nodes = [
            RedisNode(workdir, "redis-sentinel", config_text=sentinel_config) for _ in range(sentinels)
        ]
        #: every Sentinel's address, comma-separated: what ``sentinels = …`` takes
        self.sentinels = ", ".join(node.address for node in self.sentinel_nodes)
        self.data_nodes = [self.first_primary, self.replica]

    def start(self) -> RedisSentinelServers:
        """Start primary, replica and Sentinels; wait until the replica is in sync and every Sentinel
        knows the replica and the other Sentinels."""
        for node in (*self.data_nodes, *self.sentinel_nodes):
            node.start()
        self._wait(self._settled, "not settled")
        return self

    def primary(self) -> RedisNode:
        """The data node the Sentinels name as primary now."""
        reply = self.sentinel_nodes[0].command("SENTINEL", "get-master-addr-by-name", SERVICE)
        host, port = (part.decode() for part in reply)
        return next(node for node in self.data_nodes if node.address == f"{host}:{port}")

    def _settled(self) -> bool:
        try:
            primary = self.primary()
            for node in self.data_nodes:
                if (
                    node is not primary
                    and node.running()
                    and info(node.host, node.port, "replication").get("master_link_status") != "up"
                ):
                    return False
            for sentinel in self.sentinel_nodes:
                state = sentinel.command("SENTINEL", "master", SERVICE)
                fields = dict(zip(state[::2], state[1::2], strict=True))
                if int(fields[b"num-other-sentinels"]) < len(self.sentinel_nodes) - 1:
                    return False
                if int(fields[b"num-slaves"]) < 1 or b"s_down" in fields[b"flags"]:
                    return False
        except (OSError, RespError, StopIteration, KeyError, TypeError, ValueError):
            return False
        return True

    def _wait(self, done: object, what: str, timeout: float = SETTLE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis sentinels {self.sentinels}: {what} after {timeout} s")
            time.sleep(0.1)

    def kill_primary(self) -> RedisNode:
        """Kill the primary at once; the killed node."""
        primary = self.primary()
        primary.kill()
        return primary

    def wait_for_failover(self, killed: RedisNode, timeout: float = SETTLE_TIMEOUT) -> RedisNode:
        """Wait until the Sentinels name another primary and it takes writes; that primary."""

        def promoted() -> bool:
            try:
                primary = self.primary()
                return (
                    primary is not killed
                    and info(primary.host, primary.port, "replication")["role"] == "master"
                )
            except (OSError, RespError, StopIteration, KeyError):
                return False

        self._wait(promoted, f"no fail-over from {killed.address}", timeout)
        return self.primary()

    def restart(self, node: RedisNode) -> None:
        """Start a killed node again; the Sentinels make it a replica of the primary. Wait until in sync."""
        node.start()
        self._wait(self._settled, "not settled after a restart")

    def wait_replicated(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until the replica has received everything the primary wrote so far."""
        primary = self.primary()
        offset = int(info(primary.host, primary.port, "replication")["master_repl_offset"])

        def caught_up() -> bool:
            return all(
                int(info(node.host, node.port, "replication").get("slave_repl_offset", "-1")) >= offset
                for node in self.data_nodes
                if node is not primary and node.running()
            )

        self._wait(caught_up, "replica behind", timeout)

    def flush(self) -> None:
        """Drop every key (on the primary; the replica follows)."""
        self.primary().command("FLUSHALL")

    def stop(self) -> None:
        """Stop Sentinels first (no fail-over while shutting down), then the data nodes."""
        for node in (*self.sentinel_nodes, *self.data_nodes):
            node.stop()

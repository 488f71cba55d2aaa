"""A local Redis Cluster: one redis-server per node on 127.0.0.1, joined by ``redis-cli --cluster create``.

Three primaries with one replica each by default, a short ``cluster-node-timeout`` so that a killed
primary fails over within seconds, and ``cluster-require-full-coverage no`` so the other primaries'
slots keep answering meanwhile (what docs/scale-out.md recommends). Nodes keep their ``nodes.conf``:
a killed node started again rejoins, as a replica of the primary that took its slots. Local binaries
only (redis-server, redis-cli); nothing is kept on disk but the cluster configuration.
"""

from __future__ import annotations

import binascii
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_sim.services.errors import ServiceStartError
from policy_sim.services.ports import LOCALHOST, free_port
from policy_sim.services.processes import ServiceProcess, require_binary
from policy_sim.services.resp import RespError, command, info

SLOTS = 16384
#: milliseconds without an answer before the cluster counts a node as failed
NODE_TIMEOUT_MS = 2000
#: seconds to wait for the cluster to form, or to fail over
SETTLE_TIMEOUT = 60.0
#: no snapshots, no append-only file; a replica's full sync starts at once (not after 5 s)
NO_DISK = ("--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")


def key_slot(key: str | bytes) -> int:
    """The cluster slot of ``key``: CRC16 of its hash tag (the text in its first ``{…}``), or of all of it."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return binascii.crc_hqx(data, 0) % SLOTS


@dataclass(frozen=True)
class NodeState:
    """One line of ``CLUSTER NODES``: id, address, role, its primary's id, failure flag and slots."""

    node_id: str
    address: str
    primary: bool
    primary_id: str | None
    failed: bool
    slots: tuple[tuple[int, int], ...]

    def serves(self, slot: int) -> bool:
        """Whether this (primary) node holds ``slot``."""
        return any(first <= slot <= last for first, last in self.slots)


def parse_cluster_nodes(text: str) -> list[NodeState]:
    """``CLUSTER NODES`` output as NodeStates (slots in migration, ``[…]``, left out)."""
    states = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        flags = set(fields[2].split(","))
        slots = []
        for spec in fields[8:]:
            if spec.startswith("["):
                continue
            first, _, last = spec.partition("-")
            slots.append((int(first), int(last or first)))
        states.append(
            NodeState(
                node_id=fields[0],
                address=fields[1].split("@", 1)[0],
                primary="master" in flags,
                primary_id=None if fields[3] == "-" else fields[3],
                failed="fail" in flags or "fail?" in flags,
                slots=tuple(slots),
            )
        )
    return states


class RedisNode:
    """One redis-server on 127.0.0.1 (a cluster node, a primary, a replica or a Sentinel):
    ``host``, ``port``, ``address``; ``kill()`` then ``start()`` again on the same port."""

    def __init__(
        self,
        workdir: Path,
        label: str,
        options: Callable[[RedisNode], list[str]] = lambda _node: [],
        config_text: Callable[[RedisNode], str] | None = None,
    ) -> None:
        self.host = LOCALHOST
        self.port = free_port()
        self.address = f"{self.host}:{self.port}"
        self.label = label
        self.dir = workdir / f"{label}-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        binary = require_binary("redis-server", "redis-server")
        argv = [binary]
        if config_text is not None:  # Sentinels rewrite their config file: it must exist and be writable
            config = self.dir / "redis.conf"
            config.write_text(config_text(self))
            argv += [str(config), "--sentinel"]
        argv += [
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--protected-mode", "no",
            *options(self),
        ]  # fmt: skip
        self.process = ServiceProcess(argv, workdir / f"{label}-{self.port}.log")

    def answers(self) -> bool:
        """True when the node answers PING."""
        try:
            return bool(command(self.host, self.port, "PING", timeout=0.5) == "PONG")
        except (OSError, RespError):
            return False

    def start(self) -> RedisNode:
        """Start (or restart) the node and wait until it answers."""
        self.process.start(self.answers, f"{self.label} on {self.address}")
        return self

    def kill(self) -> None:
        """Kill the node at once (SIGKILL: no goodbye to the others)."""
        self.process.kill()

    def stop(self) -> None:
        """Shut the node down."""
        self.process.stop()

    def running(self) -> bool:
        """True while the process lives."""
        return self.process.running()

    def command(self, *args: str | int | bytes) -> Any:
        """One command to this node."""
        return command(self.host, self.port, *args)


#: a node of ours: what the cluster's node list calls them
ClusterNode = RedisNode


def cluster_node_options(node_timeout_ms: int) -> Callable[[RedisNode], list[str]]:
    """redis-server options of a cluster node: its own bus port, quick fail-over, no disk."""

    def options(_node: RedisNode) -> list[str]:
        return [
            "--cluster-enabled", "yes",
            "--cluster-port", str(free_port()),  # else port + 10000, which may be taken or too high
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
            "--cluster-require-full-coverage", "no",
            "--cluster-replica-validity-factor", "0",
            *NO_DISK,
        ]  # fmt: skip

    return options


class RedisClusterServers:
    """``primaries`` primaries with ``replicas`` replicas each; ``startup_nodes`` for ``cluster = …``."""

    kind = "redis-cluster"

    def __init__(
        self, workdir: Path, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = NODE_TIMEOUT_MS
    ) -> None:
        self.workdir = workdir
        self.primaries_wanted = primaries
        self.replicas = replicas
        self.redis_cli = require_binary("redis-cli", "redis-tools")
        options = cluster_node_options(node_timeout_ms)
        self.nodes = [RedisNode(workdir, "redis-cluster", options) for _ in range(primaries * (1 + replicas))]
        #: every node's address, comma-separated: what ``cluster = …`` takes
        self.startup_nodes = ", ".join(node.address for node in self.nodes)
        self._slots_before_kill: dict[str, tuple[tuple[int, int], ...]] = {}

    def start(self) -> RedisClusterServers:
        """Start every node, create the cluster and wait until every node agrees it is complete."""
        for node in self.nodes:
            node.start()
        result = subprocess.run(
            [
                self.redis_cli,
                "--cluster",
                "create",
                *(node.address for node in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=SETTLE_TIMEOUT,
        )
        if result.returncode != 0:
            self.stop()
            raise ServiceStartError(
                "redis-cli --cluster create", "failed", None, result.stdout + result.stderr
            )
        self.wait_healthy()
        return self

    def node(self, address: str) -> ClusterNode:
        """The node listening on ``address``."""
        return next(node for node in self.nodes if node.address == address)

    def topology(self) -> list[NodeState]:
        """``CLUSTER NODES`` as a live node sees it."""
        for node in self.nodes:
            if node.running():
                try:
                    reply = node.command("CLUSTER", "NODES")
                except (OSError, RespError):
                    continue
                return parse_cluster_nodes(reply.decode() if isinstance(reply, bytes) else str(reply))
        raise ConnectionError("no node of the cluster answers")

    def primaries(self) -> list[ClusterNode]:
        """The nodes serving slots now (failed ones left out)."""
        states = self.topology()
        return [
            self.node(state.address) for state in states if state.primary and not state.failed and state.slots
        ]

    def primary_for(self, key: str | bytes) -> ClusterNode:
        """The live primary serving the slot of ``key``."""
        slot = key_slot(key)
        for state in self.topology():
            if state.primary and not state.failed and state.serves(slot):
                return self.node(state.address)
        raise LookupError(f"no live primary serves slot {slot}")

    def replicas_of(self, primary: ClusterNode) -> list[ClusterNode]:
        """The replicas of ``primary``."""
        states = self.topology()
        primary_id = next(state.node_id for state in states if state.address == primary.address)
        return [self.node(state.address) for state in states if state.primary_id == primary_id]

    def _healthy(self) -> bool:
        try:
            running = [node for node in self.nodes if node.running()]
            for node in running:
                cluster = info(node.host, node.port, "cluster")
                if cluster.get("cluster_state") != "ok" or cluster.get("cluster_slots_assigned") != str(
                    SLOTS
                ):
                    return False
            states = self.topology()
            if any(state.failed for state in states if self.node(state.address).running()):
                return False
            live_primaries = [state for state in states if state.primary and not state.failed and state.slots]
            if sum(last - first + 1 for state in live_primaries for first, last in state.slots) != SLOTS:
                return False
            replicas = [state for state in states if not state.primary and self.node(state.address).running()]
            if len(live_primaries) + len(replicas) != len(running):
                return False  # a node not yet placed (a restarted one still thinks it is a primary)
            for state in replicas:
                node = self.node(state.address)
                replication = info(node.host, node.port, "replication")
                if replication.get("master_link_status") != "up":
                    return False
        except (OSError, RespError, StopIteration):
            return False
        return True

    def wait_healthy(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every running node says the cluster is ok and every replica is in sync."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis cluster {self.startup_nodes}: not healthy after {timeout} s")
            time.sleep(0.1)

    def kill_primary(self, primary: ClusterNode) -> None:
        """Kill ``primary`` at once; :meth:`wait_for_failover` then tells when a replica took over."""
        state = next(state for state in self.topology() if state.address == primary.address)
        self._slots_before_kill[primary.address] = state.slots
        primary.kill()

    def wait_for_failover(self, killed: ClusterNode, timeout: float = SETTLE_TIMEOUT) -> ClusterNode:
        """Wait until another node serves every slot ``killed`` served (killed by :meth:`kill_primary`)
        and every running node says the cluster is ok; the new primary of those slots."""
        slots = self._slots_before_kill[killed.address]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = self.topology()
                serving = {
                    state.address
                    for state in states
                    for first, _ in slots
                    if state.primary and not state.failed and state.serves(first)
                }
                if len(serving) == 1 and killed.address not in serving and self._live_nodes_ok():
                    return self.node(serving.pop())
            except (OSError, RespError, StopIteration):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"redis cluster: no replica took over from {killed.address} within {timeout} s")

    def _live_nodes_ok(self) -> bool:
        return all(
            info(node.host, node.port, "cluster").get("cluster_state") == "ok"
            for node in self.nodes
            if node.running()
        )

    def restart(self, node: ClusterNode) -> None:
        """Start a killed node again: it rejoins as a replica; wait until the cluster is healthy."""
        node.start()
        self.wait_healthy()

    def node_id(self, node: ClusterNode) -> str:
        """The cluster id of ``node``."""
        reply = node.command("CLUSTER", "MYID")
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    def move_slot(self, slot: int, target: ClusterNode) -> None:
        """Migrate ``slot`` and its keys to the primary ``target`` (as ``redis-cli --cluster reshard``)."""
        source = next(
            self.node(state.address)
            for state in self.topology()
            if state.primary and not state.failed and state.serves(slot)
        )
        if source is target:
            return
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while True:
            keys = source.command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                break
            assert isinstance(keys, list)
            source.command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
        for node in (target, source, *self.primaries()):
            node.command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    def wait_replicated(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every replica has received everything its primary wrote so far."""
        deadline = time.monotonic() + timeout
        for primary in self.primaries():
            offset = int(info(primary.host, primary.port, "replication")["master_repl_offset"])
            for replica in self.replicas_of(primary):
                while (
                    int(info(replica.host, replica.port, "replication").get("slave_repl_offset", "-1"))
                    < offset
                ):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"redis cluster: {replica.address} behind {primary.address}")
                    time.sleep(0.02)

    def flush(self) -> None:
        """Drop every key on every primary."""
        for node in self.primaries():
            node.command("FLUSHALL")

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

"""Virtual hosts: a listening port (or policy_context name) and its plugin chain."""

from __future__ import annotations

from dataclasses import dataclass

from mtpolicyd_core.chain import PluginChain


@dataclass(frozen=True)
class VirtualHost:
    """``<VirtualHost PORT>``: the port it serves, its name in logs, its chain, whether its DNS
    look-ups start together as a request arrives (``parallel_dns``)."""

    port: str
    name: str
    chain: PluginChain
    parallel_dns: bool = False

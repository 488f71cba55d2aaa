"""Writes small legacy GeoIP country databases (`GeoIP.dat` format) for tests."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

import pygeoip.const

COUNTRY_BEGIN = 16776960  # records at or above this are leaves: country index + COUNTRY_BEGIN
COUNTRY_EDITION = 1


def write_country_dat(path: Path, networks: Mapping[str, str]) -> Path:
    """A binary trie over IPv4 bits; ``networks`` maps CIDR to country code, broader ones first."""
    nodes = [[COUNTRY_BEGIN, COUNTRY_BEGIN]]
    for cidr, code in networks.items():
        network = ipaddress.IPv4Network(cidr)
        leaf = COUNTRY_BEGIN + pygeoip.const.COUNTRY_CODES.index(code)
        bits, node = int(network.network_address), 0
        for depth in range(network.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == network.prefixlen - 1:
                nodes[node][bit] = leaf
                break
            child = nodes[node][bit]
            if child >= COUNTRY_BEGIN:
                nodes.append([child, child])
                child = nodes[node][bit] = len(nodes) - 1
            node = child
    data = b"".join(record.to_bytes(3, "little") for node in nodes for record in node)
    path.write_bytes(data + b"\xff\xff\xff" + bytes([COUNTRY_EDITION]))
    return path

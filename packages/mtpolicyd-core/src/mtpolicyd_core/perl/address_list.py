"""Networks (localhost and configured ones) an address is tested against, as the original's AddressList."""

from __future__ import annotations

import ipaddress
import re

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOCALHOST = ("127.0.0.0/8", "::ffff:127.0.0.0/104", "::1/128")


def parse_networks(text: str) -> list[Network]:
    """Networks separated by commas or blanks; a plain address is a one-address network."""
    return [ipaddress.ip_network(item, strict=False) for item in re.split(r"\s*[, ]\s*", text) if item]


class AddressList:
    """Localhost plus configured networks."""

    def __init__(self, text: str) -> None:
        self.networks = [ipaddress.ip_network(net) for net in LOCALHOST] + parse_networks(text)

    def contains(self, address: str) -> bool:
        """Whether the address lies in one of the networks; an invalid address is in none."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == network.version and ip in network for network in self.networks)

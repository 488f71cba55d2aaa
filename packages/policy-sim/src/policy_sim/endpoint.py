"""Where a policy service listens: ``host:port``, ``[v6]:port`` or a bare port."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True, order=True)
class Endpoint:
    """A TCP address of a policy service."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(text: str, default_host: str = DEFAULT_HOST) -> Endpoint:
    """Parse ``host:port``, ``[v6]:port``, ``inet:host:port`` (Postfix style) or ``port``.

    Raises ValueError with the offending text.
    """
    spec = text.strip()
    if spec.startswith("inet:"):
        spec = spec[len("inet:") :]
    host, port_text = default_host, spec
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1 : close + 2] != ":":
            raise ValueError(f"bad address {text!r}: expected [host]:port")
        host, port_text = spec[1:close], spec[close + 2 :]
    elif ":" in spec:
        host, port_text = spec.rsplit(":", 1)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad address {text!r}: port must be a number from 1 to 65535")
    return Endpoint(host or default_host, int(port_text))

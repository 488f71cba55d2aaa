"""The optional HTTP endpoints of the master: ``metrics_address`` (Prometheus) and ``health_address``.

Both are off unless set; the same address for both makes one server answer ``/metrics`` and
``/health``. See docs/metrics.md and docs/decisions/0013-metrics.md.
"""

from __future__ import annotations

import importlib.util
import re

#: global options naming an HTTP endpoint's ``[host:]port``
HTTP_ADDRESS_OPTIONS = ("metrics_address", "health_address")
#: what installs the metrics library (an extra of the server package)
METRICS_INSTALL_COMMAND = "pip install 'mtpolicyd-server[metrics]'"
#: the host of an address given as a bare port: never more exposed than asked for
DEFAULT_HOST = "127.0.0.1"

_ADDRESS = re.compile(r"(?:\[?(?P<host>[^\[\]]+?)\]?:)?(?P<port>\d+)")


def parse_http_address(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``port`` → (host, port); ValueError naming what is wrong."""
    found = _ADDRESS.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not [host:]port")
    port = int(found["port"])
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port number must be 1 to 65535")
    return found["host"] or DEFAULT_HOST, port


def http_address_problem(key: str, value: str) -> str | None:
    """Why ``key = value`` cannot be used, or None (metrics also need prometheus-client installed)."""
    try:
        parse_http_address(value)
    except ValueError as error:
        return f"{key}: {error}"
    if key == "metrics_address" and importlib.util.find_spec("prometheus_client") is None:
        return (
            "metrics_address needs the Python package prometheus_client, which is not installed;"
            f" install it with: {METRICS_INSTALL_COMMAND}"
        )
    return None

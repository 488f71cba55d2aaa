"""Config templates for a policy daemon: ``{name}`` placeholders, top-level keys, vhost ports."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{(\w+)\}")
PORT_PLACEHOLDER = re.compile(r"\{(port\d*)\}")
_VHOST_OPEN = re.compile(r"^<VirtualHost\s+\"?(?P<port>\d+)\"?\s*>", re.I)
_NAME = re.compile(r"^name(?:\s*=\s*|\s+)\"?(?P<name>[^\"\s#]+)")


def render(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` for the names in ``values`` only; other braces (regexes) stay."""
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], template)


def port_numbers(template: str) -> list[int]:
    """The numbers of the ``{port}``, ``{port2}``… placeholders used (``{port}`` is 1), sorted."""
    return sorted({int(found[4:] or 1) for found in PORT_PLACEHOLDER.findall(template)})


def top_level_keys(config: str) -> set[str]:
    """Names of the settings outside any ``<Block>``."""
    keys: set[str] = set()
    depth = 0
    for raw in config.splitlines():
        line = raw.strip()
        if line.startswith("</"):
            depth -= 1
        elif line.startswith("<") and not line.startswith("<<"):
            depth += 1
        elif depth == 0 and "=" in line and not line.startswith("#"):
            keys.add(line.split("=", 1)[0].strip())
    return keys


def vhost_ports(config: str) -> dict[str, int]:
    """``name`` of every ``<VirtualHost PORT>`` of a config text → its port (unnamed: the port)."""
    ports: dict[str, int] = {}
    port: int | None = None
    name = ""
    depth = 0
    for raw in config.splitlines():
        line = raw.strip()
        opened = _VHOST_OPEN.match(line)
        if opened and port is None:
            port, name, depth = int(opened["port"]), "", 0
        elif port is not None and line.lower().startswith("</virtualhost") and depth == 0:
            ports[name or str(port)] = port
            port = None
        elif port is not None and line.startswith("</"):
            depth -= 1
        elif port is not None and line.startswith("<") and not line.startswith("<<"):
            depth += 1
        elif port is not None and depth == 0 and (found := _NAME.match(line)):
            name = found["name"]
    return ports

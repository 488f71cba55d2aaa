"""Import what a configuration names only when it names it: a daemon using memcached sessions never
loads SQLAlchemy, which keeps every worker smaller (the master's imports are shared by the workers)."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(target: str) -> Any:
    """The object ``package.module:Name`` names, its module imported now."""
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)

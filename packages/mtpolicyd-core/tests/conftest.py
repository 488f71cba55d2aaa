"""Fixtures that build plugins and chains from config blocks, in-process."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest
from mtpolicyd_core.chain import PluginChain, build_chain
from mtpolicyd_core.config.model import Dialect
from mtpolicyd_core.config.parser import parse_config_text
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.connections import ConnectionPool
from mtpolicyd_core.plugin import Plugin, PluginContext

BlockFactory = Callable[..., Block]
_lines = count(1)


def plugin_block(name: str, *nested: Block, **settings: str) -> Block:
    """A ``<Plugin name>`` block with ``key = value`` settings (in keyword order) and nested blocks."""
    entries: list[Setting | Block] = [
        Setting(key, value, Location("test.conf", next(_lines))) for key, value in settings.items()
    ]
    entries.extend(nested)
    return Block("Plugin", name, Location("test.conf", next(_lines)), tuple(entries))


def context(dialect: Dialect = "2") -> PluginContext:
    """A build context for a vhost called ``test`` without back-end connections."""
    return PluginContext(
        vhost_name="test", dialect=dialect, connections=ConnectionPool(), build_chain=build_chain
    )


@pytest.fixture
def block() -> BlockFactory:
    """Factory of ``<Plugin>`` blocks: ``block("name", module="Action", action="reject")``."""
    return plugin_block


@pytest.fixture
def build_plugin() -> Callable[..., Plugin]:
    """Build one plugin from its block through ``module``, like the config loader does."""

    def build(plugin: Block, dialect: Dialect = "2") -> Plugin:
        return build_chain([plugin], context(dialect)).plugins[0]

    return build


@pytest.fixture
def make_chain() -> Callable[..., PluginChain]:
    """Build a chain from ``<Plugin>`` blocks."""

    def build(*blocks: Block, dialect: Dialect = "2") -> PluginChain:
        return build_chain(blocks, context(dialect))

    return build


@pytest.fixture
def chain_from_text() -> Callable[..., PluginChain]:
    """Build a chain from the ``<Plugin>`` blocks of config text (Config::General syntax)."""

    def build(text: str, dialect: Dialect = "2") -> PluginChain:
        root = parse_config_text(text, "test.conf")
        return build_chain(list(root.blocks("Plugin")), context(dialect))

    return build

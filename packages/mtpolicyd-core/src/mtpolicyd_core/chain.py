"""An ordered list of plugins run until the first aborting result."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.errors import ConfigError, PluginError
from mtpolicyd_core.plugin import Plugin, PluginContext
from mtpolicyd_core.registry import load_plugin_class
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import ChainResult
from mtpolicyd_core.roles.connections import connection_options
from mtpolicyd_core.runtime.log_context import plugin_context
from mtpolicyd_core.runtime.metrics import error_kind, metrics

log = logging.getLogger("mtpolicyd.chain")


@dataclass(frozen=True)
class PluginChain:
    """The plugins of a vhost, or of a plugin's nested ``<Plugin>`` blocks, in file order."""

    vhost_name: str
    plugins: tuple[Plugin, ...]

    async def run(self, request: Request) -> ChainResult:
        """Run plugins in order; the first aborting result ends the chain.

        A plugin switched off (``enabled = off``) is skipped. A failing plugin
        with ``on_error = continue`` is logged and skipped; any other failure
        raises :class:`PluginError` and fails the request.
        """
        result = ChainResult()
        counted = metrics()
        for plugin in self.plugins:
            with plugin_context(plugin.name):
                if plugin.is_switched_off(request):
                    continue
                started = time.perf_counter() if counted.enabled else 0.0
                try:
                    plugin_results = await plugin.run(request)
                except Exception as error:  # a plugin's fault must not kill the worker
                    if counted.enabled:
                        count_plugin_failure(self.vhost_name, plugin, error, time.perf_counter() - started)
                    failure = PluginError(plugin.name, f"{error}")
                    if plugin.on_error != "continue":
                        raise failure from error
                    log.error("%s", failure)  # the original's wording; the context names vhost and mail
                    continue
                if counted.enabled:
                    counted.plugin_ran(self.vhost_name, plugin.name, time.perf_counter() - started)
            if plugin_results:
                result.last_match = plugin.name
            result.plugin_results.extend(plugin_results)
            if any(plugin_result.abort for plugin_result in plugin_results):
                break
        return result

    def all_plugins(self) -> Iterator[Plugin]:
        """Every plugin of the chain and of the nested chains, in file order."""
        for plugin in self.plugins:
            yield plugin
            if plugin.chain is not None:
                yield from plugin.chain.all_plugins()

    def prefetch(self, request: Request) -> None:
        """Start the look-ups of every plugin (nested ones too) that are not switched off."""
        for plugin in self.all_plugins():
            if not plugin.is_switched_off(request):
                plugin.prefetch(request)

    async def startup(self) -> None:
        """Let every plugin (nested ones too) check its files and back-ends; ConfigError names the line."""
        for plugin in self.all_plugins():
            plugin.check_files()  # ConfigError at the option's own line
            try:
                await plugin.startup()
            except (ValueError, ConfigError) as error:
                where = plugin.location
                raise ConfigError(
                    f"could not initialize plugin {plugin.name}: {error}",
                    where.file if where else None,
                    where.line if where else None,
                ) from None

    async def cron(self, tasks: Iterable[str]) -> None:
        """Run every plugin's periodic tasks; a failing plugin is logged, the others still run."""
        task_list = list(tasks)
        for plugin in self.plugins:
            log.info("running cron for plugin %s", plugin.name)
            try:
                await plugin.cron(task_list)
            except Exception as error:  # one plugin's cron must not stop the others
                log.error("plugin %s failed in cron: %s", plugin.name, error)


def count_plugin_failure(vhost: str, plugin: Plugin, error: Exception, seconds: float) -> None:
    """A failed run counts as the plugin's run and, for a plugin using connections, as their error."""
    counted = metrics()
    counted.plugin_ran(vhost, plugin.name, seconds)
    kind = error_kind(error)
    for option in connection_options(type(plugin)):
        counted.backend_error(str(getattr(plugin, option.name)), kind)


def build_chain(blocks: Sequence[Block], context: PluginContext) -> PluginChain:
    """Instantiate the plugins of ``<Plugin NAME>`` blocks; errors name file and line."""
    plugins: list[Plugin] = []
    for block in blocks:
        where = block.location
        if not block.name:
            raise ConfigError("<Plugin> block needs a name: <Plugin NAME>", where.file, where.line)
        module = block.get("module")
        if module is None:
            raise ConfigError(f"no module defined for plugin {block.name}!", where.file, where.line)
        plugin_class = load_plugin_class(module, block.name, where)
        plugins.append(plugin_class.from_block(block, context))
    for index, plugin in enumerate(plugins):
        for warning in plugin.link_following(plugins[index + 1 :]):
            at = plugin.location
            text = f"{at}: plugin {plugin.name}: {warning}" if at else f"plugin {plugin.name}: {warning}"
            context.warnings.append(text)
            log.warning("%s", text)
    return PluginChain(context.vhost_name, tuple(plugins))

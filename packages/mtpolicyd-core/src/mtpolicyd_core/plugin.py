"""The plugin API: a plugin is options declared once plus ``async run(request) -> results``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from mtpolicyd_core.config.model import Dialect
from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.lookups.process_resolver import ProcessResolver
from mtpolicyd_core.options import STR, Option, declared_options, maybe
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.switch import Switchable
from mtpolicyd_core.runtime.blocking import BlockingCalls
from mtpolicyd_core.runtime.file_access import unreadable
from mtpolicyd_core.runtime.log_context import python_level

if TYPE_CHECKING:
    from mtpolicyd_core.chain import PluginChain
    from mtpolicyd_core.connections import ConnectionPool

log = logging.getLogger("mtpolicyd.plugin")

ChainBuilder = Callable[[Sequence[Block], "PluginContext"], "PluginChain"]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class PluginContext:
    """What a plugin may use while it is built: where it sits and the shared back-ends."""

    vhost_name: str
    dialect: Dialect
    connections: ConnectionPool
    build_chain: ChainBuilder
    warnings: list[str] = field(default_factory=list)
    blocking: BlockingCalls = field(default_factory=BlockingCalls)
    dns: ProcessResolver = field(default_factory=ProcessResolver)


class Plugin:
    """Base of all plugins. Subclasses declare ``Option`` attributes and implement ``async run``.

    ``run`` must not block the event loop: network clients are asyncio ones, and
    libraries without an asyncio API go through :meth:`in_thread`.
    """

    on_error = Option(maybe(STR), doc="`continue`: log a failure of this plugin and go on with the chain")
    log_level = Option(STR, default="4", doc="log level of this plugin's own messages")
    #: Net::Server level used when the option is not a number 0-4
    DEFAULT_LOG_LEVEL: ClassVar[int] = 4

    #: The nested chain of plugins with the NestedChain role.
    takes_chain: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        context: PluginContext,
        values: dict[str, Any],
        user_config_fields: dict[str, str],
        chain: PluginChain | None = None,
        location: Location | None = None,
    ) -> None:
        self.name = name
        self.vhost_name = context.vhost_name
        self.dialect = context.dialect
        self.connections = context.connections
        self.blocking = context.blocking
        self.dns = context.dns
        self.location = location
        self._option_values = values
        self.user_config_fields = user_config_fields
        self.chain = chain
        self.logger = logging.LoggerAdapter(log, {"vhost": context.vhost_name, "plugin": name})
        #: where each option set in the config was written
        self.option_locations: dict[str, Location] = {}

    @classmethod
    def from_block(cls, block: Block, context: PluginContext) -> Plugin:
        """Build the plugin from its ``<Plugin NAME>`` block; ConfigError names file and line."""
        name = block.name or ""
        options = {option.name: option for option in declared_options(cls)}
        values: dict[str, Any] = {name_: option.default for name_, option in options.items()}
        user_config: dict[str, str] = {}
        locations: dict[str, Location] = {}
        for setting in block.settings():
            _apply_setting(cls, name, options, values, user_config, setting, context, locations)
        for option in options.values():
            if option.required and values.get(option.name) is None:
                raise ConfigError(
                    f"plugin {name}: required option {option.name} is missing",
                    block.location.file,
                    block.location.line,
                )
        nested = list(block.blocks("Plugin"))
        chain = context.build_chain(nested, context) if nested and cls.takes_chain else None
        plugin = cls(name, context, values, user_config, chain, block.location)
        plugin.option_locations = locations
        try:
            plugin.init()
        except (ValueError, ConfigError) as error:
            raise ConfigError(
                f"could not initialize plugin {name}: {error}",
                block.location.file,
                block.location.line,
            ) from None
        return plugin

    def init(self) -> None:
        """Check option combinations and prepare; raise ValueError to reject the config."""

    def link_following(self, following: Sequence[Plugin]) -> list[str]:
        """Called once the chain is built, with the plugins after this one in it; warnings to report.

        Quota uses it to find the Accounting that counts its mails (decision 0012).
        """
        return []

    async def startup(self) -> None:
        """Check back-ends once before serving (create SQL tables …); raise ValueError to refuse."""

    def check_files(self) -> None:
        """Every file option (``reads_file``) can be read by this process; ConfigError at its line."""
        for option in declared_options(type(self)):
            path = self._option_values.get(option.name)
            if not option.reads_file or not isinstance(path, str):
                continue
            problem = unreadable(path)
            if problem is not None:
                where = self.option_locations.get(option.name, self.location)
                raise ConfigError(
                    f"plugin {self.name}: {option.name} {path} {problem}",
                    where.file if where else None,
                    where.line if where else None,
                )

    async def run(self, request: Request) -> list[PluginResult]:
        """Answer one request: no result, or results whose first abort stops the chain."""
        raise NotImplementedError

    def prefetch(self, request: Request) -> None:
        """Start the look-ups ``run`` will need (``request.prefetch``), for vhosts with ``parallel_dns``."""

    def is_switched_off(self, request: Request) -> bool:
        """Whether a :class:`Switchable` plugin's ``enabled`` is ``off`` for this request."""
        return isinstance(self, Switchable) and self.get_uc(request, "enabled") == "off"

    async def cron(self, tasks: Iterable[str]) -> None:
        """Run periodic tasks (``hourly``, ``daily``, …); nested chains are run too."""
        if self.chain is not None:
            await self.chain.cron(tasks)

    async def in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking library call on the process's bounded thread pool."""
        return await self.blocking.run(function, *args, **kwargs)

    def option_values(self) -> dict[str, Any]:
        """The effective value of every declared option, for ``-d`` and docs."""
        return dict(self._option_values)

    def get_uc(self, request: Request, option: str) -> Any:
        """An option's value, overridden per request by the session field named in ``uc_<option>``."""
        field_name = self.user_config_fields.get(option)
        if field_name is not None and request.session is not None:
            value = request.session.get(field_name)
            if value is not None:
                return value
        return self._option_values.get(option)

    def debug(self, request: Request, message: str) -> None:
        """Log a plugin message at the plugin's ``log_level`` (0 err … 4 debug, as the original's).

        Worded like the original's plugin lines (``vhost: message``), with instance and plugin.
        """
        text = str(self._option_values.get("log_level", self.DEFAULT_LOG_LEVEL)).strip()
        level = int(text) if text.isdigit() else self.DEFAULT_LOG_LEVEL
        log.log(
            python_level(level),
            "%s: %s",
            self.vhost_name,
            message,
            extra={"vhost": self.vhost_name, "plugin": self.name, "instance": request.instance or ""},
        )


def _apply_setting(
    cls: type[Plugin],
    plugin_name: str,
    options: dict[str, Option[Any]],
    values: dict[str, Any],
    user_config: dict[str, str],
    setting: Setting,
    context: PluginContext,
    locations: dict[str, Location],
) -> None:
    """Store one configured option after checking it is declared and well typed."""
    key = setting.key
    where = setting.location
    if key == "module":
        return
    if key.startswith("uc_") and key[3:] in options and options[key[3:]].user_config:
        user_config[key[3:]] = setting.value
        return
    option = options.get(key)
    if option is None:
        # The original ignores unknown options; keep admins' configs working but say so.
        context.warnings.append(f"{where}: plugin {plugin_name}: unknown option {key} ignored")
        log.warning("%s: plugin %s (%s): unknown option %s ignored", where, plugin_name, cls.__name__, key)
        return
    try:
        values[key] = option.parse(setting.value)
    except ValueError as error:
        raise ConfigError(f"plugin {plugin_name}: {error}", where.file, where.line) from None
    locations[key] = where
    doubt = option.unknown_choice(setting.value)
    if doubt is not None:
        context.warnings.append(f"{where}: plugin {plugin_name}: {doubt}")
        log.warning("%s: plugin %s (%s): %s", where, plugin_name, cls.__name__, doubt)

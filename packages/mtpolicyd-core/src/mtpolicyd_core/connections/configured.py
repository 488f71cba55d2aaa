"""Connection options declared once, like a plugin's: type, default and doc per ``<Connection>`` option.

The loader reads a block through these declarations when the configuration is loaded: a value of the
wrong type (``timeout = soon``) or a contradicting combination is a ConfigError at its line, an unknown
option a warning (the original ignores it). ``mtpolicyd -d`` and ``docs/connections.md`` read the same
declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from mtpolicyd_core.config.model import ConnectionConfig
from mtpolicyd_core.config.tree import Location
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.options import NUM, Option, OptionType, declared_options
from mtpolicyd_core.perl.numbers import Num

#: where and what a warning is about
Warn = Callable[[Location | None, str], None]

_SWITCH_WORDS = {"": False, "0": False, "off": False, "no": False, "false": False}
_SWITCH_WORDS |= {"1": True, "on": True, "yes": True, "true": True}


def _to_switch(text: str) -> bool:
    try:
        return _SWITCH_WORDS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not a boolean (use 1 or 0, on or off)") from None


def _to_seconds(text: str) -> Num:
    value = NUM.convert(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive number of seconds")
    return value


def _to_count(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ValueError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


#: 1/0 as the original's Bool, and on/off, yes/no, true/false
SWITCH: OptionType[bool] = OptionType("Bool", _to_switch)
#: a positive number of seconds (``timeout = soon`` or ``0`` is an error)
SECONDS: OptionType[Num] = OptionType("Num", _to_seconds)
#: a whole number, 0 or more
COUNT: OptionType[int] = OptionType("Int", _to_count)


class ConnectionOptionError(ValueError):
    """A connection's options contradict each other; ``option`` names the one to point at."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(message)


def option_location(config: ConnectionConfig, option: str | None = None) -> Location | None:
    """Where ``option`` was written in the block (else where the block starts)."""
    if option is not None and option in config.option_locations:
        return config.option_locations[option]
    return config.location


def connection_error(config: ConnectionConfig, message: str, option: str | None = None) -> ConfigError:
    """A ConfigError about connection ``config`` at the line of ``option`` (or of the block)."""
    where = option_location(config, option)
    return ConfigError(
        f"connection {config.name} ({config.module}): {message}",
        where.file if where else None,
        where.line if where else None,
    )


def read_options(cls: type, config: ConnectionConfig, warn: Warn | None = None) -> dict[str, Any]:
    """Every declared option of ``cls``: its configured value converted, else its default.

    ConfigError at the option's line for a value of the wrong type; ``warn`` hears of unknown
    options and of values outside an option's choices.
    """
    options = {option.name: option for option in declared_options(cls)}
    values: dict[str, Any] = {name: option.default for name, option in options.items()}
    for key, text in config.options.items():
        option = options.get(key)
        if option is None:
            if warn is not None and key not in getattr(cls, "derived_options", ()):
                warn(option_location(config, key), f"connection {config.name}: unknown option {key} ignored")
            continue
        try:
            values[key] = option.parse(text)
        except ValueError as error:
            raise connection_error(config, str(error), key) from None
        doubt = option.unknown_choice(text)
        if doubt is not None and warn is not None:
            warn(option_location(config, key), f"connection {config.name}: {doubt}")
    return values


class ConfiguredConnection:
    """Base of the connection classes: options declared as :class:`Option` class attributes.

    ``check()`` tells contradicting combinations apart (ConnectionOptionError naming the option);
    both the declared types and ``check()`` are applied when the class is built from its config.
    """

    #: the ``module`` of ``<Connection>`` this class implements
    module: ClassVar[str] = ""
    #: option names the loader adds itself (Sql ``url`` from ``dsn``): never "unknown"
    derived_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ConnectionConfig) -> None:
        self.name = config.name
        self.config = config
        self._option_values = read_options(type(self), config)
        try:
            self.check()
        except ConnectionOptionError as error:
            raise connection_error(config, str(error), error.option) from None

    def check(self) -> None:
        """Refuse contradicting options (ConnectionOptionError); called once options are read."""

    def option_values(self) -> dict[str, Any]:
        """The effective value of every declared option, for ``-d``."""
        return dict(self._option_values)

    @classmethod
    def declared(cls) -> list[Option[Any]]:
        """The options this connection class declares, in declaration order."""
        return list(declared_options(cls))


def validate_connection(cls: type[ConfiguredConnection], config: ConnectionConfig, warn: Warn) -> None:
    """Read ``config`` as ``cls`` would, reporting unknown options to ``warn``; ConfigError at the line."""
    read_options(cls, config, warn)
    cls(config)

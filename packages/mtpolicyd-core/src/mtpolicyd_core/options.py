"""Plugin options declared once: type, default, required, user-config override.

A plugin class declares ``threshold = Option(NUM, required=True, user_config=True)``;
validation, ``mtpolicyd -d`` and the generated plugin reference all read these
declarations through :func:`declared_options`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from mtpolicyd_core.perl.numbers import Num

T = TypeVar("T")


@dataclass(frozen=True)
class OptionType(Generic[T]):
    """How an option's text becomes a value; ``name`` is the Perl type shown in docs."""

    name: str
    convert: Callable[[str], T]


# The original's option types are Moose's: strict, no blanks, no ``inf``, no ``5.``.
_MOOSE_INT = re.compile(r"-?[0-9]+")
_MOOSE_NUM = re.compile(r"[+-]?(?=[0-9]|\.[0-9])[0-9]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_MOOSE_BOOL = {"": False, "0": False, "1": True}


def _to_int(text: str) -> int:
    if not _MOOSE_INT.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _to_num(text: str) -> Num:
    if not _MOOSE_NUM.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return Num(text)


def _to_bool(text: str) -> bool:
    if text not in _MOOSE_BOOL:
        raise ValueError(f"{text!r} is not a boolean (use 1 or 0)")
    return _MOOSE_BOOL[text]


def maybe(kind: OptionType[T]) -> OptionType[T | None]:
    """The option may be left unset (Moose ``Maybe[...]``)."""
    return OptionType(f"Maybe[{kind.name}]", kind.convert)


STR: OptionType[str] = OptionType("Str", str)
NUM: OptionType[Num] = OptionType("Num", _to_num)
INT: OptionType[int] = OptionType("Int", _to_int)
BOOL: OptionType[bool] = OptionType("Bool", _to_bool)


class Option(Generic[T]):
    """A declared plugin option; reads as its value on plugin instances.

    Options that may stay unset use a ``maybe(...)`` kind, so their value type
    includes None; required options and options with a default never read None.
    """

    def __init__(
        self,
        kind: OptionType[T],
        *,
        default: str | None = None,
        required: bool = False,
        user_config: bool = False,
        doc: str = "",
        choices: tuple[str, ...] = (),
        otherwise: str = "",
        reads_file: bool = False,
    ) -> None:
        self.kind = kind
        self.default_text = default
        self.required = required
        self.user_config = user_config
        self.doc = doc
        #: the values with a meaning of their own; the original accepts any other (a warning here)
        self.choices = choices
        #: what any value outside ``choices`` does, as the original does it
        self.otherwise = otherwise
        #: the value names a file every worker reads (checked at start-up, after dropping privileges)
        self.reads_file = reads_file
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Option[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> Option[T] | T:
        if instance is None:
            return self
        values: dict[str, Any] = instance.__dict__["_option_values"]
        return cast(T, values.get(self.name))

    def parse(self, text: str) -> T:
        """Convert configured text; raises ValueError naming the expected type."""
        try:
            return self.kind.convert(text)
        except ValueError as error:
            raise ValueError(f"option {self.name}: expected {self.kind.name}: {error}") from None

    def unknown_choice(self, text: str) -> str | None:
        """A warning when ``text`` is none of the declared ``choices``, else None."""
        if not self.choices or text in self.choices:
            return None
        known = ", ".join(self.choices)
        effect = f"; the original accepts it too: {self.otherwise}" if self.otherwise else ""
        return f"{self.name} = {text!r} is none of {known}{effect}"

    @property
    def default(self) -> T | None:
        """The default value, or None when the option has none."""
        return None if self.default_text is None else self.kind.convert(self.default_text)

    @property
    def type_name(self) -> str:
        """The type as documented: ``Str``, ``Maybe[Num]`` …"""
        return self.kind.name


def declared_options(cls: type) -> Iterator[Option[Any]]:
    """Every option of a plugin class and its roles, base classes first, once each."""
    seen: dict[str, Option[Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Option):
                seen[name] = value
    return iter(seen.values())


#: choices of the checking plugins' ``mode`` options, and what another value does
MODES = ("reject", "accept", "dunno", "passive")
ONLY_SCORES = "it only scores, like passive"
ON_OFF = ("on", "off")


def mode_option(default: str, choices: tuple[str, ...], doc: str) -> Option[str]:
    """A checking plugin's ``mode``: overridable per user; a value outside ``choices`` only scores."""
    return Option(STR, default=default, user_config=True, doc=doc, choices=choices, otherwise=ONLY_SCORES)

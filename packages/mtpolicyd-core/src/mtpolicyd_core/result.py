"""What plugins answer, and what a whole chain answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PluginResult:
    """One answer of a plugin: an action line (or none) and whether the chain stops."""

    action: str | None
    abort: bool = False

    @classmethod
    def dunno(cls) -> PluginResult:
        """``dunno`` that ends the chain."""
        return cls(action="dunno", abort=True)

    @classmethod
    def header(cls, name: str, value: str) -> PluginResult:
        """``PREPEND name: value`` that ends the chain."""
        return cls(action=f"PREPEND {name}: {value}", abort=True)

    @classmethod
    def header_once(cls, is_done: bool, name: str, value: str) -> PluginResult:
        """A header the first time for a mail, ``dunno`` afterwards."""
        return cls.dunno() if is_done else cls.header(name, value)


@dataclass
class ChainResult:
    """All plugin results of one request, in order, and the last plugin that answered."""

    plugin_results: list[PluginResult] = field(default_factory=list)
    last_match: str | None = None

    @property
    def actions(self) -> list[str]:
        """The action lines, in the order the plugins gave them."""
        return [result.action for result in self.plugin_results if result.action is not None]

    def as_log(self) -> str:
        """The actions joined by commas, as the request log line shows them."""
        return ",".join(self.actions)

    def as_policyd_response(self) -> str:
        """The reply to Postfix: ``action=`` lines and an empty line; ``dunno`` when empty."""
        actions = self.actions or ["dunno"]
        return "".join(f"action={action}\n" for action in actions) + "\n"

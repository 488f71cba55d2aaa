"""Role: what a match answers, by the plugin's ``mode``: reject, accept (dunno) or only score."""

from __future__ import annotations

from typing import ClassVar

from mtpolicyd_core.result import PluginResult


class ModeAnswers:
    """``reject`` answers the plugin's reject action; an accepting mode answers ``dunno`` and ends the
    chain; any other mode (``passive``) answers nothing, so the chain goes on with the score added."""

    #: modes that answer ``dunno`` (RBL and RBLAction know only ``accept``, as the original)
    accept_modes: ClassVar[tuple[str, ...]] = ("accept", "dunno")

    def mode_results(
        self, mode: str, reject_action: str | None, accept_modes: tuple[str, ...] | None = None
    ) -> list[PluginResult]:
        """The answer for ``mode``; a ``reject_action`` of None means this result cannot reject."""
        if mode == "reject" and reject_action is not None:
            return [PluginResult(reject_action, abort=True)]
        if mode in (self.accept_modes if accept_modes is None else accept_modes):
            return [PluginResult.dunno()]
        return []

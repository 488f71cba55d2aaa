"""Role: an ``enabled`` option, overridable per mail, that switches the plugin off."""

from __future__ import annotations

from mtpolicyd_core.options import ON_OFF, STR, Option


class Switchable:
    """The chain skips the plugin while ``enabled`` (or its user-config override) is ``off``."""

    enabled = Option(
        STR,
        default="on",
        user_config=True,
        doc="`off` switches the plugin off",
        choices=ON_OFF,
        otherwise="the plugin stays on",
    )

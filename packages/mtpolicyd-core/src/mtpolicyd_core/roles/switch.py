"""Role: an ``enabled`` option, overridable per mail, that switches the plugin off."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option


class Switchable:
    """The chain skips the plugin while ``enabled`` (or its user-config override) is ``off``."""

    enabled = Option(STR, default="on", user_config=True, doc="`off` switches the plugin off")

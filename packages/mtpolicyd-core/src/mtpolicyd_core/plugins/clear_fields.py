"""ClearFields: removes session fields by name or by prefix."""

from __future__ import annotations

from mtpolicyd_core.options import STR, Option, maybe
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult


class ClearFields(Plugin):
    """Deletes the listed session fields and every field starting with a listed prefix."""

    fields = Option(maybe(STR), doc="comma separated session fields to delete")
    fields_prefix = Option(maybe(STR), doc="comma separated prefixes: fields starting with one are deleted")

    async def run(self, request: Request) -> list[PluginResult]:
        if self.fields is not None:
            names = comma_list(self.fields)
            self.debug(request, "clearing fields " + ", ".join(names))
            for name in names:
                request.require_session().pop(name, None)
        if self.fields_prefix is not None:
            prefixes = comma_list(self.fields_prefix)
            self.debug(request, "clearing fields with prefixes: " + ", ".join(prefixes))
            for prefix in prefixes:
                session = request.require_session()
                for name in [name for name in session if name.startswith(prefix)]:
                    del session[name]
        return []

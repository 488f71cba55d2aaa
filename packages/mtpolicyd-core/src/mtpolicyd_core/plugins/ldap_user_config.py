"""LdapUserConfig (2.x): per-user options read from an LDAP entry into the session."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from mtpolicyd_core.connections.ldap import LdapConnection
from mtpolicyd_core.errors import ConnectionUnavailable
from mtpolicyd_core.options import STR, Option, maybe
from mtpolicyd_core.perl.comma_list import comma_list
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.connections import ConnectionOption, UsesConnections


def escape_filter_value(value: str) -> str:
    """A value made safe inside an LDAP filter (RFC 4515): ``* ( ) \\`` and control bytes as ``\\xx``."""
    return re.sub(r"[\x00-\x1f*()\\]", lambda match: f"\\{ord(match.group(0)):02x}", value)


def _first_text(values: Any) -> str | None:
    if not values:
        return None
    value = values[0]
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class LdapUserConfig(UsesConnections, Plugin):
    """Searches the LDAP connection ``ldap`` below ``basedn`` with ``filter``, where ``%s`` is the
    (escaped) value of the request attribute ``filter_field``. When exactly one entry is
    found, the first value of each attribute in ``config_fields`` is stored in the
    session under the attribute's name, for ``uc_<option>`` settings of later plugins.
    """

    basedn = Option(STR, default="", doc="search base")
    filter = Option(STR, required=True, doc="search filter; `%s` is replaced by the escaped request value")
    filter_field = Option(maybe(STR), default="sasl_username", doc="request attribute whose value fills `%s`")
    config_fields = Option(STR, required=True, doc="comma-separated LDAP attributes copied into the session")
    connection = Option(STR, default="ldap", doc="unused (kept from the original); see `ldap`")
    connection_type = Option(STR, default="Ldap", doc="unused (kept from the original)")
    ldap = ConnectionOption("Ldap", "ldap", doc="name of the LDAP connection")

    def init(self) -> None:
        self.check_connections()

    @cached_property
    def attribute_names(self) -> list[str]:
        """The LDAP attributes copied into the session."""
        return comma_list(self.config_fields)

    def filter_value(self, request: Request) -> str | None:
        """The request value for the filter, None (logged) when not configured, sent or empty."""
        if not self.filter_field:
            self.debug(request, "no request field configured in filter_field")
            return None
        value = request.attr(self.filter_field)
        if value is None or value == "":
            self.debug(request, f"value of field {self.filter_field} not defined or empty")
            return None
        return value

    async def find_entry(self, request: Request) -> dict[str, Any] | None:
        """The attributes of the one matching entry, or None (logged); an LDAP server that cannot
        be reached fails the request, as the original connects before anything else."""
        connection = self.connection_of("ldap")
        assert isinstance(connection, LdapConnection)
        value = self.filter_value(request)
        if value is None:
            await self.in_thread(connection.ensure_open)  # the original connects even then
            skipping = "is not defined in request. skipping ldap search."
            self.debug(request, f"filter_field({self.filter_field}) {skipping}")
            return None
        search_filter = self.filter.replace("%s", escape_filter_value(value))
        self.debug(request, f"ldap filter is: {search_filter}")
        try:
            entries = await self.in_thread(
                connection.search, self.basedn, search_filter, self.attribute_names
            )
        except ConnectionUnavailable:  # connecting (search connects on first use) fails the request
            raise
        except Exception as error:  # any other LDAP failure: logged, the chain goes on as in the original
            self.debug(request, f"ldap search failed: {error}")
            return None
        if len(entries) != 1:
            self.debug(request, f"ldap search return {len(entries)} entries")
            return None
        entry = entries[0]
        self.debug(request, f"found in ldap: {entry.get('dn')}")
        return {name.lower(): values for name, values in (entry.get("raw_attributes") or {}).items()}

    async def run(self, request: Request) -> list[PluginResult]:
        entry = await self.find_entry(request)
        if entry is None:
            return []
        for field in self.attribute_names:
            value = _first_text(entry.get(field.lower()))
            if value:
                self.debug(request, f"retrieved ldap attribute: {field}={value}")
                request.require_session()[field] = value
            else:
                self.debug(request, f"LDAP attribute {field} is empty. skipping.")
        return []

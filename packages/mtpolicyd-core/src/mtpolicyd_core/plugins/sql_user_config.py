"""SqlUserConfig: a JSON document per user, read by SQL and merged into the session."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.sql_tables import SqlTables


class UserConfigUnavailable(LookupError):
    """No user config could be read for this request; logged, the chain goes on."""


class SqlUserConfig(SqlTables, Plugin):
    """Runs ``sql_query`` with the request's ``field`` and merges the JSON object in the first
    column into the session, where ``uc_<option>`` settings of later plugins find it.
    A missing key, row or bad JSON is logged and the chain goes on.
    """

    sql_query = Option(
        STR,
        default="SELECT config FROM user_config WHERE address=?",
        doc="query with one `?` placeholder for the key; its first column holds the JSON config",
    )
    field = Option(STR, default="recipient", doc="request attribute used as the key")

    def init(self) -> None:
        self.check_connections()

    async def user_config(self, request: Request) -> Any:
        """The decoded document for this request's key."""
        key = request.attr(self.field)
        if key is None or key.strip() == "":
            raise UserConfigUnavailable(f"key field {self.field} not defined or empty in request")
        try:
            row = (await self.execute_sql(self.sql_query, key)).first_row
        except (SQLAlchemyError, TimeoutError) as error:
            raise UserConfigUnavailable(f"{error}") from None
        if row is None or row[0] is None:
            raise UserConfigUnavailable(f"no user-config found for {key}")
        try:
            return json.loads(row[0])
        except (TypeError, ValueError) as error:
            raise UserConfigUnavailable(f"invalid JSON in user-config of {key}: {error}") from None

    async def run(self, request: Request) -> list[PluginResult]:
        try:
            config = await self.user_config(request)
        except UserConfigUnavailable as error:
            self.debug(request, f"unable to retrieve user-config: {error}")
            return []
        if config is None:  # JSON null: Perl's keys %$config finds no keys
            return []
        if not isinstance(config, dict):
            raise ValueError(f"user-config for {request.attr(self.field)} is not a JSON object")
        if config:
            request.require_session().update(config)
        return []

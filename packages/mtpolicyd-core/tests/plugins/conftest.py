"""Every plugin test closes the SQL connections it opened (aiosqlite's threads outlive a test otherwise)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from plugins.connection_fakes import OPENED_SQL


@pytest.fixture(autouse=True)
async def close_sql_connections() -> AsyncIterator[None]:
    """After the test, close what it opened, on its own event loop."""
    yield
    while OPENED_SQL:
        await OPENED_SQL.pop().aclose()

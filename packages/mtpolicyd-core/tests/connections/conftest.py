"""``any_event_loop``: run a test once on asyncio's own loop and once on uvloop (as workers may)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(params=["asyncio", "uvloop"])
def any_event_loop(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make ``asyncio.run`` use the loop named by the parameter."""
    if request.param == "asyncio":
        yield "asyncio"
        return
    uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed: the uvloop run is skipped")
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield "uvloop"
    finally:
        asyncio.set_event_loop_policy(previous)

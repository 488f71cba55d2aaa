import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.request import NoSessionError, Request


def test_get_defaults_to_request_scope() -> None:
    request = Request({"sender": "a@b"}, {"sender": "session"})
    assert request.get("sender") == "a@b"
    assert request.get("r:sender") == "a@b"
    assert request.get("request:sender") == "a@b"
    assert request.get("s:sender") == "session"
    assert request.get("session:sender") == "session"


def test_get_empty_or_missing() -> None:
    request = Request({}, None)
    assert request.get("") is None
    assert request.get(None) is None
    assert request.get("session:x") is None
    assert request.get("x") is None


def test_get_splits_at_first_colon_only() -> None:
    assert Request({"a:b": "v"}, {}).get("r:a:b") == "v"


def test_get_unknown_scope_fails() -> None:
    with pytest.raises(ValueError, match="unknown scope x while retrieving variable for x:y"):
        Request({}, {}).get("x:y")


def counting(calls: list[int], value: list[object]) -> Callable[[], Awaitable[list[object]]]:
    """A look-up that records each time it runs."""

    async def compute() -> list[object]:
        calls.append(1)
        return value

    return compute


async def test_do_cached_computes_once_per_mail_even_for_empty_results() -> None:
    calls: list[int] = []
    session: dict[str, object] = {}
    request = Request({}, session)
    for _ in range(2):
        assert await request.do_cached("k", counting(calls, [])) == []
    assert calls == [1]
    assert session == {"k": []}


async def test_do_cached_without_session_or_caching_always_computes() -> None:
    calls: list[int] = []
    for request in (Request({}, None), Request({}, {}, use_caching=False)):
        await request.do_cached("k", counting(calls, [1]))
        await request.do_cached("k", counting(calls, [1]))
    assert len(calls) == 4


async def test_prefetched_look_up_is_awaited_instead_of_computed_again() -> None:
    calls: list[int] = []
    session: dict[str, object] = {}
    request = Request({}, session)
    request.prefetch("k", counting(calls, ["listed"]))
    assert await request.do_cached("k", counting(calls, ["other"])) == ["listed"]
    assert calls == [1]
    assert session == {"k": ["listed"]}


async def test_prefetch_skips_answers_the_session_already_has() -> None:
    calls: list[int] = []
    request = Request({}, {"k": ["cached"]})
    request.prefetch("k", counting(calls, ["fresh"]))
    assert request.prefetched == {}
    assert await request.do_cached("k", counting(calls, ["fresh"])) == ["cached"]
    assert calls == []


async def test_unused_prefetched_look_ups_are_cancelled_and_their_failures_retrieved() -> None:
    started = asyncio.Event()

    async def never_needed() -> list[object]:
        started.set()
        await asyncio.Event().wait()
        return []

    async def failed() -> list[object]:
        raise OSError("DNS down")

    request = Request({}, {})
    request.prefetch("slow", never_needed)
    request.prefetch("broken", failed)
    await started.wait()
    await asyncio.sleep(0)  # let the failing look-up finish
    tasks = list(request.prefetched.values())
    request.cancel_prefetched()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[0].cancelled()
    assert request.prefetched == {}


async def test_look_up_started_without_session_key_is_taken_once() -> None:
    calls: list[int] = []
    request = Request({}, None)
    request.start_lookup("spf-helo", counting(calls, ["pass"]))
    assert await request.lookup("spf-helo", counting(calls, ["again"])) == ["pass"]
    assert await request.lookup("spf-helo", counting(calls, ["again"])) == ["again"]
    assert calls == [1, 1]


def test_is_already_done_raises_flag_once() -> None:
    session: dict[str, object] = {}
    request = Request({}, session)
    assert request.is_already_done("flag") is False
    assert request.is_already_done("flag") is True
    assert session == {"flag": 1}
    assert Request({}, None).is_already_done("flag") is False
    assert Request({}, {}, use_caching=False).is_already_done("flag") is False


@pytest.mark.parametrize(
    ("value", "defined"), [("x", True), (" x ", True), ("", False), ("  ", False), (None, False)]
)
def test_is_attr_defined_needs_non_blank_values(value: str | None, defined: bool) -> None:
    attributes = {} if value is None else {"sender": value}
    assert Request({"a": "1", **attributes}).is_attr_defined("a", "sender") is defined


def test_require_session_fails_without_session() -> None:
    with pytest.raises(NoSessionError):
        Request({}).require_session()
    session: dict[str, object] = {}
    assert Request({}, session).require_session() is session


@given(st.dictionaries(st.text(st.characters(blacklist_characters="=\n"), min_size=1), st.text()))
def test_attributes_are_kept_as_sent(attributes: dict[str, str]) -> None:
    request = Request(attributes)
    for name, value in attributes.items():
        assert request.attr(name) == value
    assert request.type == attributes.get("request")
    assert request.instance == attributes.get("instance")

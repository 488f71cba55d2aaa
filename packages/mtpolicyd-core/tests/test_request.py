import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.request import NoSessionError, Request


def test_get_defaults_to_request_scope():
    request = Request({"sender": "a@b"}, {"sender": "session"})
    assert request.get("sender") == "a@b"
    assert request.get("r:sender") == "a@b"
    assert request.get("request:sender") == "a@b"
    assert request.get("s:sender") == "session"
    assert request.get("session:sender") == "session"


def test_get_empty_or_missing():
    request = Request({}, None)
    assert request.get("") is None
    assert request.get(None) is None
    assert request.get("session:x") is None
    assert request.get("x") is None


def test_get_splits_at_first_colon_only():
    assert Request({"a:b": "v"}, {}).get("r:a:b") == "v"


def test_get_unknown_scope_fails():
    with pytest.raises(ValueError, match="unknown scope x while retrieving variable for x:y"):
        Request({}, {}).get("x:y")


def test_do_cached_computes_once_per_mail_even_for_empty_results():
    calls: list[int] = []
    session: dict[str, object] = {}
    request = Request({}, session)
    for _ in range(2):
        assert request.do_cached("k", lambda: calls.append(1) or []) == []
    assert calls == [1]
    assert session == {"k": []}


def test_do_cached_without_session_or_caching_always_computes():
    calls: list[int] = []
    for request in (Request({}, None), Request({}, {}, use_caching=False)):
        request.do_cached("k", lambda: calls.append(1) or [1])
        request.do_cached("k", lambda: calls.append(1) or [1])
    assert len(calls) == 4


def test_is_already_done_raises_flag_once():
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
def test_is_attr_defined_needs_non_blank_values(value, defined):
    attributes = {} if value is None else {"sender": value}
    assert Request({"a": "1", **attributes}).is_attr_defined("a", "sender") is defined


def test_require_session_fails_without_session():
    with pytest.raises(NoSessionError):
        Request({}).require_session()
    session: dict[str, object] = {}
    assert Request({}, session).require_session() is session


@given(st.dictionaries(st.text(st.characters(blacklist_characters="=\n"), min_size=1), st.text()))
def test_attributes_are_kept_as_sent(attributes):
    request = Request(attributes)
    for name, value in attributes.items():
        assert request.attr(name) == value
    assert request.type == attributes.get("request")
    assert request.instance == attributes.get("instance")

"""Sessions serialize to JSON; what cannot be read back is a new session."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.perl.numbers import Num
from mtpolicyd_core.session import serde

#: texts as requests carry them: any bytes, invalid UTF-8 kept as surrogate escapes
request_texts = st.binary(max_size=12).map(lambda data: data.decode("utf-8", "surrogateescape"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | request_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(st.dictionaries(st.text() | request_texts, json_values, max_size=6))
def test_session_round_trips(fields: dict[str, object]) -> None:
    session = {**fields, "_instance": "abc"}
    assert serde.loads(serde.dumps(session), "abc") == session


def test_loaded_session_names_the_requested_instance() -> None:
    assert serde.loads(b'{"score": 1}', "abc") == {"score": 1, "_instance": "abc"}


def test_absent_session_is_none() -> None:
    assert serde.loads(None, "abc") is None


@pytest.mark.parametrize("data", [b"\xff\xfe", b"{broken", b"[1, 2]", b'"text"', b"\x80\x04\x95pickle"])
def test_unreadable_or_non_mapping_content_is_logged_and_ignored(
    data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mtpolicyd.session"):
        assert serde.loads(data, "abc") is None
    assert "instance=abc" in caplog.text


def test_numbers_keep_their_value_and_sets_become_sorted_lists() -> None:
    stored = serde.loads(serde.dumps({"score": Num("1.5"), "seen": {"b", "a"}}), "abc")
    assert stored == {"score": 1.5, "seen": ["a", "b"], "_instance": "abc"}

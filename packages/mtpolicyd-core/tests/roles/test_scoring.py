from functools import reduce

from hypothesis import given
from hypothesis import strategies as st
from mtpolicyd_core.perl.numbers import Num, perl_str
from mtpolicyd_core.request import Request
from mtpolicyd_core.roles.scoring import Scoring, add_score, score_detail, session_score

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=10)
config_numbers = st.from_regex(r"\A-?[0-9]{1,3}(\.[0-9]{1,3})?\Z").map(Num)
scores = st.lists(
    st.tuples(names, st.one_of(config_numbers, st.integers(-100, 100), st.floats(-100, 100))),
    min_size=1,
    max_size=8,
)


@given(scores)
def test_score_is_the_sum_and_details_list_each_addition(additions: list[tuple[str, float]]) -> None:
    session: dict[str, object] = {}
    request = Request({}, session)
    for name, value in additions:
        add_score(request, "score", name, value)
    assert session["score"] == reduce(lambda total, item: total + float(item[1]), additions, 0.0)
    assert session["score_detail"] == ", ".join(f"{name}={perl_str(value)}" for name, value in additions)


def test_detail_keeps_the_configured_text_while_the_sum_prints_as_number() -> None:
    session: dict[str, object] = {}
    request = Request({}, session)
    assert add_score(request, "score", "name", Num("5.0")) == 5
    assert session["score_detail"] == "name=5.0"
    assert perl_str(session["score"]) == "5"


def test_scores_add_to_a_text_score_from_the_session() -> None:
    session: dict[str, object] = {"score": "2.5", "score_detail": "earlier=2.5"}
    add_score(Request({}, session), "score", "b", "1")
    assert session == {"score": 3.5, "score_detail": "earlier=2.5, b=1"}


def test_score_fields_are_independent() -> None:
    session: dict[str, object] = {}
    request = Request({}, session)
    add_score(request, "score", "a", 1)
    add_score(request, "other", "b", 2)
    assert session == {"score": 1, "score_detail": "a=1", "other": 2, "other_detail": "b=2"}


def test_without_session_the_score_is_computed_but_not_kept() -> None:
    request = Request({}, None)
    assert add_score(request, "score", "a", 3) == 3
    assert session_score(request, "score") == 0
    assert score_detail(request, "score") is None


class Scorer(Scoring):
    """The role alone, as a plugin called ``p`` with the default score field."""

    name = "p"

    def __init__(self) -> None:
        self._option_values = {"score_field": "score"}


def test_score_once_adds_on_the_first_request_of_a_mail_only() -> None:
    session: dict[str, object] = {}
    scorer = Scorer()
    for _ in range(3):
        scorer.add_score_once(Request({}, session), "p-score", 5)
    assert session == {"score": 5, "score_detail": "p=5", "p-score": 1}


def test_score_once_without_a_score_leaves_the_flag_down_for_a_later_one() -> None:
    session: dict[str, object] = {}
    scorer = Scorer()
    scorer.add_score_once(Request({}, session), "p-score", None)
    assert session == {}
    scorer.add_score_once(Request({}, session), "p-score", 2, key="p-helo")
    assert session == {"score": 2, "score_detail": "p-helo=2", "p-score": 1}


def test_score_once_without_caching_adds_on_every_request() -> None:
    session: dict[str, object] = {}
    scorer = Scorer()
    for _ in range(2):
        scorer.add_score_once(Request({}, session, use_caching=False), "p-score", 1)
    assert session == {"score": 2, "score_detail": "p=1, p=1"}

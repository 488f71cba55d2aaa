from collections.abc import Callable

import pytest
from mtpolicyd_core.config.tree import Block
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import NoSessionError, Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.scoring import add_score


@pytest.fixture
def header(block: Callable[..., Block], build_plugin: Callable[..., Plugin]) -> Callable[..., Plugin]:
    def build(**settings: str) -> Plugin:
        return build_plugin(block("score-header", module="AddScoreHeader", **settings))

    return build


async def test_add_score_header_prepends_score_and_details(header: Callable[..., Plugin]) -> None:
    session: dict[str, object] = {}
    request = Request({}, session)
    for name, value in [("ZUMSEL", 5), ("BLA", 2.5), ("BLUB", 2.5)]:
        add_score(request, "score", name, value)
    assert await header().run(request) == [
        PluginResult("PREPEND X-MtScore: YES score=10 [ZUMSEL=5, BLA=2.5, BLUB=2.5]", abort=True)
    ]


@pytest.mark.parametrize(("score", "verdict"), [(4.9, "NO"), (5, "YES"), (7.5, "YES")])
async def test_add_score_header_says_yes_from_spam_score(
    header: Callable[..., Plugin], score: float, verdict: str
) -> None:
    result = await header().run(Request({}, {"score": score}))
    assert result == [PluginResult(f"PREPEND X-MtScore: {verdict} score={score}", abort=True)]


async def test_add_score_header_without_score_or_details(header: Callable[..., Plugin]) -> None:
    assert await header().run(Request({}, {})) == [PluginResult("PREPEND X-MtScore: NO score=0", abort=True)]


@pytest.mark.parametrize("detail", ["", "0"])
async def test_add_score_header_leaves_out_false_details(header: Callable[..., Plugin], detail: str) -> None:
    result = await header().run(Request({}, {"score": 1, "score_detail": detail}))
    assert result == [PluginResult("PREPEND X-MtScore: NO score=1", abort=True)]


async def test_add_score_header_once_per_mail_then_dunno(header: Callable[..., Plugin]) -> None:
    plugin = header()
    session = {"_instance": "abc", "score": 1}
    assert await plugin.run(Request({}, session)) == [
        PluginResult("PREPEND X-MtScore: NO score=1", abort=True)
    ]
    assert session["score-score-tag"] == 1
    assert await plugin.run(Request({}, session)) == [PluginResult("dunno", abort=True)]


async def test_add_score_header_fails_without_session(header: Callable[..., Plugin]) -> None:
    with pytest.raises(NoSessionError):
        await header().run(Request({}, None))


async def test_add_score_header_every_time_without_caching(header: Callable[..., Plugin]) -> None:
    plugin = header()
    for _ in range(2):
        result = await plugin.run(Request({}, {}, use_caching=False))
        assert result == [PluginResult("PREPEND X-MtScore: NO score=0", abort=True)]


async def test_add_score_header_uses_its_score_field_name_and_spam_score(
    header: Callable[..., Plugin],
) -> None:
    plugin = header(score_field="other", header_name="X-Other", spam_score="1.5", uc_spam_score="my_spam")
    session = {"other": 1, "other_detail": "a=1", "my_spam": "1"}
    assert await plugin.run(Request({}, session)) == [
        PluginResult("PREPEND X-Other: YES score=1 [a=1]", abort=True)
    ]
    assert "score-other-tag" in session

"""The score of a mail: a session field and its ``name=value`` details."""

from __future__ import annotations

from typing import Any, ClassVar

from mtpolicyd_core.options import STR, Option
from mtpolicyd_core.perl.numbers import perl_numify, perl_str
from mtpolicyd_core.request import Request


def session_score(request: Request, score_field: str) -> Any:
    """The score as stored (number or text), 0 without one."""
    if request.session is None:
        return 0
    value = request.session.get(score_field)
    return 0 if value is None else value


def score_detail(request: Request, score_field: str) -> str | None:
    """The details ``a=1, b=2.5`` of the score, or None."""
    if request.session is None:
        return None
    detail = request.session.get(f"{score_field}_detail")
    return None if detail is None else str(detail)


def add_score(request: Request, score_field: str, key: str, value: object) -> float:
    """Add ``value`` to the score and append ``key=value`` to its details; returns the new score.

    Without a session the score cannot be kept, as in the original.
    """
    score = perl_numify(session_score(request, score_field)) + perl_numify(value)
    if request.session is None:
        return score
    request.session[score_field] = score
    detail_field = f"{score_field}_detail"
    entry = f"{key}={perl_str(value)}"
    existing = request.session.get(detail_field)
    request.session[detail_field] = entry if existing is None else f"{existing}, {entry}"
    return score


class Scoring:
    """Role: the plugin adds to, or acts on, the score kept in ``score_field``."""

    score_field = Option(STR, default="score", doc="session field that holds the score")
    uses_scoring: ClassVar[bool] = True
    name: str  # the plugin's name, set by Plugin

    def add_score(self, request: Request, key: str, value: object) -> float:
        """Add ``value`` under ``key`` to this plugin's score field."""
        return add_score(request, self.score_field, key, value)

    def add_score_once(self, request: Request, flag: str, value: object, key: str | None = None) -> None:
        """Add ``value`` under ``key`` (the plugin's name) once per mail, the first time the one-shot
        ``flag`` is raised; a ``value`` of None adds nothing and leaves the flag down."""
        if value is not None and not request.is_already_done(flag):
            self.add_score(request, self.name if key is None else key, value)

    def get_score(self, request: Request) -> Any:
        """The current score of this plugin's score field."""
        return session_score(request, self.score_field)

    def get_score_detail(self, request: Request) -> str | None:
        """The details of this plugin's score field; like the original, fails without a session."""
        request.require_session()
        return score_detail(request, self.score_field)

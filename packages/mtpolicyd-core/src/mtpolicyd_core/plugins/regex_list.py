"""RegexList (2.x): acts when a value matches one of a list of regular expressions."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from mtpolicyd_core.options import BOOL, NUM, STR, Option, OptionType, maybe
from mtpolicyd_core.perl.numbers import perl_str
from mtpolicyd_core.perl.regex import compile_perl_regex, perl_bytes
from mtpolicyd_core.plugin import Plugin
from mtpolicyd_core.request import Request
from mtpolicyd_core.result import PluginResult
from mtpolicyd_core.roles.nested_chain import NestedChain
from mtpolicyd_core.roles.scoring import Scoring
from mtpolicyd_core.roles.switch import Switchable

#: One ``regex`` line in the config; the original accepts a single one there (no repeated options).
REGEX_LIST: OptionType[list[str]] = OptionType("ArrayRef[Str]", lambda text: [text])


def read_regex_file(path: str) -> list[str]:
    """The patterns of a file, one a line; blank lines and ``#`` comments are skipped."""
    text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    return [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]


class RegexList(Switchable, Scoring, NestedChain, Plugin):
    """Matches a value against ``regex`` and the patterns in ``file``; on a match adds
    ``score`` (once per mail), then answers ``action`` or runs its nested chain."""

    key = Option(STR, required=True, doc="the value to test: `[request:|session:]name`")
    invert = Option(BOOL, default="0", doc="act when no pattern matches")
    score = Option(maybe(NUM), user_config=True, doc="score added on a match, once per mail")
    action = Option(maybe(STR), user_config=True, doc="action answered on a match")
    regex = Option(REGEX_LIST, doc="a regular expression (Perl syntax)")
    file = Option(
        maybe(STR),
        doc="file of patterns, one a line; blank lines and `#` comments are skipped",
        reads_file=True,
    )

    def init(self) -> None:
        """Compile the patterns once; the file is read here, in the master, not on a worker's loop."""
        from_file: list[str] = []
        if self.file is not None:
            # unreadable: check_files refuses the start-up with the reason, at the option's line
            with contextlib.suppress(OSError):
                from_file = read_regex_file(self.file)
        self.patterns: list[tuple[str, re.Pattern[bytes]]] = []
        for pattern in [*(self.regex or []), *from_file]:
            try:
                self.patterns.append((pattern, compile_perl_regex(pattern)))
            except re.error as error:
                self.logger.error("invalid regex %s: %s", pattern, error)

    def first_match(self, value: str) -> list[str]:
        """The first pattern that matches, as a one-item list (invalid patterns were left out)."""
        subject = perl_bytes(value)
        for pattern, compiled in self.patterns:
            if compiled.search(subject):
                return [pattern]
        return []

    async def run(self, request: Request) -> list[PluginResult]:
        value = request.get(self.key)
        if value is None:
            self.debug(request, f"no attribute '{self.key}' in request")
            return []
        text = perl_str(value)

        async def first_match() -> list[str]:
            return self.first_match(text)

        found = await request.do_cached(f"{self.name}-result", first_match)
        if bool(found) == self.invert:
            return []
        self.debug(request, f"{self.key}={text} matched {self.name}")
        self.add_score_once(request, f"{self.name}-score", self.get_uc(request, "score"))
        return await self.action_or_chain(request, self.get_uc(request, "action"))

"""A Config::General compatible reader: mtpolicyd.conf text → ordered :class:`Block` tree.

It works in the two passes Config::General does, so its quirks carry over:
first lines become logical lines (comments removed, continuations joined,
here-docs collected, includes expanded), then logical lines become settings
and nested blocks. The daemon runs Config::General with ``-AllowMultiOptions
=> 'no'``, so a repeated option or block in one block is an error here too.
Deliberate differences (see docs/decisions/0001-config-general-parser.md):
closing tags must match their block, an unterminated here-doc is an error,
includes are looked up beside the including file first.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from mtpolicyd_core.config.tree import Block, Location, Setting
from mtpolicyd_core.errors import ConfigError
from mtpolicyd_core.perl.truth import perl_true

log = logging.getLogger("mtpolicyd.config")

#: What Perl's ``\s`` matches on byte strings (Config::General reads bytes).
WHITESPACE = " \t\n\r\f\v"

_FLAGS = re.ASCII
_SINGLE_LINE_C_COMMENT = re.compile(r"\s*/\*.*\*/\s*", _FLAGS)
_C_COMMENT_START = re.compile(r"\s*/\*", _FLAGS)
_C_COMMENT_END = re.compile(r"^.*\*/", _FLAGS)
_HASH_COMMENT = re.compile(r"(?<!\\)#.*", _FLAGS)
_CONTINUATION = re.compile(r"(?<!\\)\\\Z", _FLAGS)
_EMPTY_BLOCK = re.compile(r"\s*<([^/]+?.*?)/>\s*\Z", _FLAGS)
_HEREDOC_EQUALS = re.compile(r"\s*([^=]+?)\s*=\s*<<\s*(.+?)\s*", _FLAGS)
_HEREDOC_SPACE = re.compile(r"\s*(\S+?)\s+<<\s*(.+?)\s*", _FLAGS)
_INCLUDE = re.compile(r"\s*<<include\s+(.+?)>>\s*", _FLAGS | re.IGNORECASE)
_BLOCK_START = re.compile(r"<([^/].*)>", _FLAGS)
_BLOCK_END = re.compile(r"</(.+?)>", _FLAGS)
_QUOTED_BLOCK = re.compile(r'"([^"]+)"', _FLAGS)
_BLOCK_KIND_NAME = re.compile(r'(?:"([^"]+)"|(\S+))(?:\s+(?:"([^"]+)"|(.*)))?', _FLAGS)
_KEY_VALUE_SPLIT = re.compile(r"\s*=\s*|\s+", _FLAGS)
_VALUE_ESCAPE = re.compile(r'\\([$\\"#])', _FLAGS)


def unescape_value(value: str) -> str:
    """Config::General's value escapes: ``\\#``, ``\\"``, ``\\$`` and ``\\\\``."""
    return _VALUE_ESCAPE.sub(r"\1", value)


def parse_config_file(path: str, warnings: list[str] | None = None) -> Block:
    """Parse the config file at ``path``; ConfigError names file and line of any fault."""
    reader = _LineReader(warnings if warnings is not None else [])
    reader.read_file(path, None)
    return _build_tree(reader.chunks, path)


def parse_config_text(text: str, path: str = "<string>", warnings: list[str] | None = None) -> Block:
    """Parse config ``text`` as if read from ``path`` (includes resolve beside ``path``)."""
    reader = _LineReader(warnings if warnings is not None else [])
    reader.read_text(text, path)
    return _build_tree(reader.chunks, path)


@dataclass(frozen=True)
class _Chunk:
    """One logical line; a here-doc carries its key and raw body separately."""

    text: str
    location: Location
    heredoc_body: str | None = None


@dataclass
class _FileState:
    """What one file's reading carries from line to line."""

    heredoc: tuple[str, str, Location] | None = None
    heredoc_lines: list[str] = field(default_factory=list)
    in_c_comment: Location | None = None
    longline: str | None = None
    longline_at: Location | None = None

    def heredoc_line(self, line: str, chunks: list[_Chunk]) -> None:
        """A line inside a here-doc: body text, or the terminator that ends it."""
        assert self.heredoc is not None
        key, terminator, started = self.heredoc
        end = re.fullmatch(r"(\s*)" + re.escape(terminator) + r"\s*", line, _FLAGS)
        if end is None:
            self.heredoc_lines.append(line)
            return
        chunks.append(_Chunk(key, started, _heredoc_body(self.heredoc_lines, end.group(1))))
        self.heredoc, self.heredoc_lines = None, []


@dataclass
class _LineReader:
    """First pass, per file: comments, continuations, here-docs and includes."""

    warnings: list[str]
    chunks: list[_Chunk] = field(default_factory=list)
    files_read: set[str] = field(default_factory=set)

    def read_file(self, path: str, included_at: Location | None) -> None:
        real = os.path.realpath(path)
        if real in self.files_read:
            # Config::General reads each file once; this also ends include loops.
            self._warn(included_at, f"{path} was already read; not read again")
            return
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            message = f"cannot read config file {path}: {error.strerror or error}"
            if included_at is None:
                raise ConfigError(message, path) from None
            raise ConfigError(message, included_at.file, included_at.line) from None
        self.files_read.add(real)
        self.read_text(_decode(data, path), path)

    def read_text(self, text: str, path: str) -> None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        state = _FileState()
        for number, line in enumerate(lines, start=1):
            self._read_line(state, line, Location(path, number))
        self._finish(state)

    def _read_line(self, state: _FileState, raw: str, here: Location) -> None:
        """One physical line, in the order Config::General looks at it."""
        if state.heredoc is not None:
            state.heredoc_line(raw, self.chunks)
            return
        line, state.in_c_comment = self._strip_c_comments(raw, here, state.in_c_comment)
        if state.in_c_comment is not None:
            return
        line = _HASH_COMMENT.sub("", line, count=1)

        if _CONTINUATION.search(line):
            state.longline_at = state.longline_at or here
            state.longline = (state.longline or "") + line[:-1].lstrip(WHITESPACE)
            return

        empty_block = _EMPTY_BLOCK.search(line)
        if empty_block:
            kind = re.sub(r"\s\s*.*\Z", "", empty_block.group(1), count=1, flags=_FLAGS)
            self.chunks.append(_Chunk(re.sub(r"/>\Z", ">", line), here))
            self.chunks.append(_Chunk(f"</{kind}>", here))
            return

        start = _HEREDOC_EQUALS.fullmatch(line) or _HEREDOC_SPACE.fullmatch(line)
        if start:
            # Config::General tests the key for truth: a here-doc for key "0" never starts.
            state.heredoc = (start.group(1), start.group(2), here) if perl_true(start.group(1)) else None
            return

        if perl_true(state.longline):
            assert state.longline is not None and state.longline_at is not None
            self.chunks.append(_Chunk(state.longline + line.lstrip(WHITESPACE), state.longline_at))
            state.longline, state.longline_at = None, None
            return
        if not line.strip(WHITESPACE):
            return
        include = _INCLUDE.fullmatch(line)
        if include and perl_true(include.group(1)):
            self._include(include.group(1), here)
            return
        self.chunks.append(_Chunk(line, here))

    def _finish(self, state: _FileState) -> None:
        """End of one file: what was left open."""
        if state.heredoc is not None:
            key, terminator, started = state.heredoc
            raise ConfigError(
                f"here-doc {key} <<{terminator} is not terminated:"
                f" no line {terminator} before the end of the file",
                started.file,
                started.line,
            )
        if state.longline is not None and state.longline_at is not None and state.longline.strip(WHITESPACE):
            # Config::General drops a continuation left open at the end; keep it instead.
            self.chunks.append(_Chunk(state.longline, state.longline_at))
        if state.in_c_comment is not None:
            self._warn(state.in_c_comment, "comment /* is never closed: the rest of the file is ignored")

    def _strip_c_comments(
        self, line: str, here: Location, in_comment: Location | None
    ) -> tuple[str, Location | None]:
        """Remove ``/* … */`` the way Config::General does, line by line."""
        if _SINGLE_LINE_C_COMMENT.search(line):
            return _SINGLE_LINE_C_COMMENT.sub("", line, count=1), in_comment
        if _C_COMMENT_START.match(line):
            return line, here
        if "*/" in line:
            if in_comment is None:
                self._warn(here, "found */ without a preceding /*: text before it is ignored")
            return _C_COMMENT_END.sub("", line, count=1), None
        return line, in_comment

    def _include(self, name: str, here: Location) -> None:
        if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
            name = name[1:-1]
        beside = os.path.join(os.path.dirname(here.file), name)
        for candidate in (beside, name):
            if os.path.isfile(candidate):
                self.read_file(candidate, here)
                return
        raise ConfigError(f"included file {name} does not exist", here.file, here.line)

    def _warn(self, where: Location | None, message: str) -> None:
        text = f"{where}: {message}" if where else message
        self.warnings.append(text)
        log.warning("%s", text)


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError("not valid UTF-8 text", path, line) from None


def _heredoc_body(lines: list[str], indent: str) -> str:
    """Join here-doc lines; an indented terminator removes that indent from each line."""
    if not indent:
        return "\n".join(lines)
    return "".join((line[len(indent) :] if line.startswith(indent) else line) + "\n" for line in lines)


def _clean_value(value: str) -> str:
    """Strip one pair of surrounding double quotes, then resolve escapes."""
    if perl_true(value) and value.startswith('"') and value.endswith('"'):
        value = value[1:]
        if value.endswith('"'):
            value = value[:-1]
    return unescape_value(value)


@dataclass
class _OpenBlock:
    """A block being filled; remembers names used so far to reject repeats."""

    kind: str
    name: str | None
    location: Location
    entries: list[Setting | Block] = field(default_factory=list)
    options: dict[str, Location] = field(default_factory=dict)
    kinds: dict[str, Location] = field(default_factory=dict)
    named: dict[tuple[str, str | None], Location] = field(default_factory=dict)

    def label(self) -> str:
        return f"<{self.kind} {self.name}>" if self.name is not None else f"<{self.kind}>"

    def close(self) -> Block:
        return Block(self.kind, self.name, self.location, tuple(self.entries))

    def add_setting(self, setting: Setting) -> None:
        key, here = setting.key, setting.location
        if key in self.options:
            raise _repeated(f"option {key} occurs more than once", self.options[key], here)
        if key in self.kinds:
            raise _repeated(f"option {key} has the name of block <{key}>", self.kinds[key], here)
        self.options[key] = here
        self.entries.append(setting)

    def check_new_block(self, kind: str, name: str | None, here: Location) -> None:
        label = f"<{kind} {name}>" if name is not None else f"<{kind}>"
        if kind in self.options:
            raise _repeated(f"block {label} has the name of option {kind}", self.options[kind], here)
        if (kind, name) in self.named or (name is None and kind in self.kinds):
            first = self.named.get((kind, name), self.kinds[kind])
            raise _repeated(f"block {label} occurs more than once", first, here)
        if (kind, None) in self.named:
            raise _repeated(f"block {label} cannot follow an unnamed <{kind}> block", self.kinds[kind], here)
        self.kinds.setdefault(kind, here)
        self.named[(kind, name)] = here


def _repeated(message: str, first: Location, here: Location) -> ConfigError:
    where = f"line {first.line}" if first.file == here.file else str(first)
    return ConfigError(f"{message} (first at {where}; duplicates are not allowed)", here.file, here.line)


def _split_block(inner: str, here: Location) -> tuple[str, str | None]:
    """``Kind name`` of a block start tag, quotes allowed around each part."""
    quoted = _QUOTED_BLOCK.fullmatch(inner)
    if quoted:
        return inner.replace('"', ""), None
    parts = _BLOCK_KIND_NAME.fullmatch(inner)
    if parts is None:
        return inner, None
    kind = parts.group(1) if perl_true(parts.group(1)) else parts.group(2)
    name = parts.group(3) if perl_true(parts.group(3)) else parts.group(4)
    if kind is None:
        raise ConfigError(f"invalid block name in <{inner}>", here.file, here.line)
    return kind, name


def _build_tree(chunks: list[_Chunk], path: str) -> Block:
    """Second pass: logical lines → settings and nested blocks."""
    stack = [_OpenBlock("", None, Location(path, 1))]
    for chunk in chunks:
        here = chunk.location
        if chunk.heredoc_body is not None:
            value = _clean_value(chunk.heredoc_body.strip(WHITESPACE))
            stack[-1].add_setting(Setting(chunk.text, value, here))
            continue
        text = chunk.text.strip(WHITESPACE)
        start = _BLOCK_START.fullmatch(text)
        if start:
            kind, name = _split_block(start.group(1), here)
            stack[-1].check_new_block(kind, name, here)
            stack.append(_OpenBlock(kind, name, here))
            continue
        end = _BLOCK_END.fullmatch(text)
        if end:
            _close_block(stack, end.group(1), here)
            continue
        parts = _KEY_VALUE_SPLIT.split(text, maxsplit=1)
        if not parts[0]:
            raise ConfigError(f"expected an option name before the value in: {text}", here.file, here.line)
        value = parts[1] if len(parts) > 1 else ""
        stack[-1].add_setting(Setting(parts[0], _clean_value(value), here))
    if len(stack) > 1:
        open_block = stack[-1]
        where = open_block.location
        raise ConfigError(
            f"unterminated block {open_block.label()} opened at line {where.line}:"
            f" expected </{open_block.kind}> before the end of the file",
            where.file,
            where.line,
        )
    return stack[0].close()


def _close_block(stack: list[_OpenBlock], tag: str, here: Location) -> None:
    """Close the innermost block; its end tag must name it (case-insensitively)."""
    closing = tag.split(maxsplit=1)[0].strip('"') if tag.split() else tag
    if len(stack) == 1:
        raise ConfigError(f"unexpected </{tag}>: no block is open", here.file, here.line)
    open_block = stack[-1]
    if closing.lower() != open_block.kind.lower():
        raise ConfigError(
            f"unexpected </{tag}>, expected </{open_block.kind}>"
            f" (block {open_block.label()} opened at line {open_block.location.line})",
            here.file,
            here.line,
        )
    stack.pop()
    stack[-1].entries.append(open_block.close())

"""The Markdown of our docs (headings, paragraphs, lists, tables, code blocks) as man(7) roff.

Only the subset docs/*.md use: ``#`` headings, paragraphs, ``-`` and ``1.`` lists, pipe
tables (each row becomes a tagged paragraph), indented or fenced code blocks, and inline
code, bold, italics and links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_INLINE = re.compile(
    r"``(?P<code2>.+?)``|`(?P<code>[^`]+)`|\*\*(?P<bold>.+?)\*\*|(?<![\w*])\*(?P<italic>[^*\s][^*]*?)\*(?![\w*])"
    r"|\[(?P<text>[^\]]+)\]\((?P<link>[^)]+)\)"
)
_LIST_ITEM = re.compile(r"(?P<marker>-|\d+\.) +(?P<text>.*)")
_HEADING = re.compile(r"(?P<level>#{1,4}) +(?P<text>.*)")


def escape(text: str) -> str:
    """Plain text made safe for roff: backslashes, and dots or quotes that would start a request."""
    return text.replace("\\", "\\e")


def escape_code(text: str) -> str:
    """Literal text (commands, options, file names): hyphens stay hyphens when copied from the page."""
    return escape(text).replace("-", "\\-")


def line_start(text: str) -> str:
    """A text line that may not begin with a control character."""
    return "\\&" + text if text.startswith((".", "'")) else text


def inline(text: str) -> str:
    """Inline Markdown as roff font changes."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position : match.start()]))
        position = match.end()
        if match["code2"] is not None or match["code"] is not None:
            out.append(f"\\fB{escape_code(match['code2'] or match['code'])}\\fR")
        elif match["bold"] is not None:
            out.append(f"\\fB{inline(match['bold'])}\\fR")
        elif match["italic"] is not None:
            out.append(f"\\fI{inline(match['italic'])}\\fR")
        else:
            link = match["link"]
            label = inline(match["text"])
            out.append(f"{label} ({escape_code(link)})" if link.startswith(("http:", "https:")) else label)
    out.append(escape(text[position:]))
    return "".join(out)


def _cells(row: str) -> list[str]:
    row = row.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


_PLAIN_HEADERS = {"meaning", "description", "effect", "what", "runs", "limit", "shows"}


def table(rows: list[str]) -> Iterator[str]:
    """A pipe table as tagged paragraphs: the first cell is the tag, the others the text."""
    header = _cells(rows[0])
    for row in rows[2:]:
        cells = _cells(row)
        yield ".TP"
        yield line_start(inline(cells[0]) or "\\ ")
        parts = []
        for name, cell in zip(header[1:], cells[1:], strict=False):
            if not cell:
                continue
            parts.append(
                inline(cell) if name.lower() in _PLAIN_HEADERS else f"{inline(name)}: {inline(cell)}"
            )
        yield line_start("; ".join(parts) if parts else "\\ ")


def code_block(lines: list[str]) -> Iterator[str]:
    """Literal lines, not filled, indented."""
    yield ".PP"
    yield ".RS 4"
    yield ".nf"
    for line in lines:
        yield line_start(escape(line))
    yield ".fi"
    yield ".RE"


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """The Markdown split into (kind, lines): heading, code, table, item, para."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if line.startswith("```"):
            end = next((i for i in range(index + 1, len(lines)) if lines[i].startswith("```")), len(lines))
            yield "code", lines[index + 1 : end]
            index = end + 1
            continue
        if line.startswith("    "):
            end = index
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            block = [text[4:] for text in lines[index:end]]
            while block and not block[-1].strip():
                block.pop()
            yield "code", block
            index = end
            continue
        if _HEADING.fullmatch(line):
            yield "heading", [line]
            index += 1
            continue
        if line.startswith("|"):
            end = index
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            yield "table", lines[index:end]
            index = end
            continue
        kind = "item" if _LIST_ITEM.fullmatch(line) else "para"
        end = index + 1
        while (
            end < len(lines)
            and lines[end].strip()
            and not _LIST_ITEM.fullmatch(lines[end])
            and not lines[end].startswith(("|", "```", "#"))
            and not (kind == "para" and lines[end].startswith("    "))
        ):
            end += 1
        yield kind, lines[index:end]
        index = end


def to_roff(markdown: str, top_level: int = 2) -> str:
    """Markdown as roff; headings of ``top_level`` become ``.SH`` (upper case), deeper ones ``.SS``."""
    out: list[str] = []
    for kind, lines in _blocks(markdown.splitlines()):
        if kind == "heading":
            match = _HEADING.fullmatch(lines[0])
            assert match is not None
            level, text = len(match["level"]), inline(match["text"])
            if level < top_level:
                continue
            out.append(f'.SH "{text.upper()}"' if level == top_level else f'.SS "{text}"')
        elif kind == "code":
            out.extend(code_block(lines))
        elif kind == "table":
            out.extend(table(lines))
        elif kind == "item":
            match = _LIST_ITEM.fullmatch(lines[0])
            assert match is not None
            marker = "\\(bu" if match["marker"] == "-" else match["marker"]
            out.append(f".IP {marker} 4")
            text = " ".join([match["text"], *(line.strip() for line in lines[1:])])
            out.append(line_start(inline(text)))
        else:
            out.append(".PP")
            out.append(line_start(inline(" ".join(line.strip() for line in lines))))
    return "\n".join(out) + "\n"


def sections(markdown: str, level: int = 2) -> dict[str, str]:
    """The Markdown under each heading of ``level`` (``## Signals`` → ``{"Signals": "…"}``)."""
    found: dict[str, str] = {}
    title: str | None = None
    body: list[str] = []
    marker = "#" * level + " "
    for line in markdown.splitlines():
        if line.startswith(marker):
            if title is not None:
                found[title] = "\n".join(body).strip() + "\n"
            title, body = line[len(marker) :].strip(), []
        elif re.match(rf"#{{1,{level - 1}}} ", line):
            if title is not None:
                found[title] = "\n".join(body).strip() + "\n"
            title, body = None, []
        elif title is not None:
            body.append(line)
    if title is not None:
        found[title] = "\n".join(body).strip() + "\n"
    return found

"""Markdown of the docs as man page roff."""

from __future__ import annotations

from tools.markdown_roff import inline, sections, to_roff


def test_inline_code_is_bold_with_literal_hyphens() -> None:
    assert inline("run `mtpolicyd -d` now") == "run \\fBmtpolicyd \\-d\\fR now"


def test_backslashes_are_escaped_and_links_keep_their_label() -> None:
    assert inline(r"a \ b, see [the guide](admin-guide.md)") == "a \\e b, see the guide"
    assert inline("[mtpolicyd](https://example.org/)") == "mtpolicyd (https://example.org/)"


def test_bold_and_italic() -> None:
    assert inline("**kept** and *uc_* but not a*b*c") == "\\fBkept\\fR and \\fIuc_\\fR but not a*b*c"


def test_table_rows_become_tagged_paragraphs() -> None:
    roff = to_roff("| Option | Default | Meaning |\n|---|---|---|\n| `port` | `12345` | where |\n")
    assert roff == ".TP\n\\fBport\\fR\nDefault: \\fB12345\\fR; where\n"


def test_code_block_is_not_filled_and_a_leading_dot_is_protected() -> None:
    roff = to_roff("Text:\n\n    .hidden\n    b\n\nMore.\n")
    assert roff == ".PP\nText:\n.PP\n.RS 4\n.nf\n\\&.hidden\nb\n.fi\n.RE\n.PP\nMore.\n"


def test_list_items_and_headings() -> None:
    roff = to_roff("## Signals\n\n- one\n  continued\n- two\n\n### Sub\n\n1. first\n")
    assert roff == '.SH "SIGNALS"\n.IP \\(bu 4\none continued\n.IP \\(bu 4\ntwo\n.SS "Sub"\n.IP 1. 4\nfirst\n'


def test_sections_by_heading() -> None:
    found = sections("# T\n\nintro\n\n## A\n\ntext a\n\n### deeper\n\nd\n\n## B\n\ntext b\n")
    assert found == {"A": "text a\n\n### deeper\n\nd\n", "B": "text b\n"}

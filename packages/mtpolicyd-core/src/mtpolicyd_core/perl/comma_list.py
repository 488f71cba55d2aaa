"""Comma-separated option values, split as the original's ``split /\\s*,\\s*/`` does."""

from __future__ import annotations

import re


def comma_list(text: str) -> list[str]:
    """The items between commas (blanks around commas dropped, trailing empty items dropped)."""
    items = re.split(r"\s*,\s*", text)
    while items and items[-1] == "":
        items.pop()
    return items

"""A dependency-free SVG chart of the comparison: req/s and p99 per row, Perl beside ours."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from integration.bench.measure import Measurement
from integration.bench.report import Row

COLOURS = {"perl": "#8c8c8c", "ours": "#1f6fb4"}
LABEL_WIDTH = 270
PANEL_WIDTH = 300
GAP = 40
BAR = 11
ROW_HEIGHT = 2 * BAR + 14
TOP = 52


def _panel(
    rows: Sequence[Row],
    left: float,
    title: str,
    value: Callable[[Measurement], float],
    unit: str,
    log: bool = False,
) -> list[str]:
    values = [value(m) for row in rows for m in (row.perl, row.ours) if m is not None]
    top = max(values, default=1.0) or 1.0

    def scaled(amount: float) -> float:
        if log:  # 1 … top on a log axis: one slow outlier must not flatten the others
            return math.log10(max(amount, 1.0)) / max(math.log10(top), 1e-9)
        return amount / top

    parts = [f'<text x="{left}" y="{TOP - 30}" font-weight="bold">{escape(title)}</text>']
    for index, row in enumerate(rows):
        y = TOP + index * ROW_HEIGHT
        for offset, (who, measured) in enumerate((("perl", row.perl), ("ours", row.ours))):
            if measured is None:
                continue
            amount = value(measured)
            width = max(1.0, PANEL_WIDTH * scaled(amount))
            bar_y = y + offset * BAR
            parts.append(f'<rect x="{left}" y="{bar_y}" width="{width:.1f}" height="{BAR - 1}" '
                         f'fill="{COLOURS[who]}"/>')  # fmt: skip
            parts.append(f'<text x="{left + width + 4:.1f}" y="{bar_y + BAR - 2}" font-size="10">'
                         f"{amount:,.0f}{unit}</text>")  # fmt: skip
    return parts


def comparison_svg(rows: Sequence[Row], perl_label: str) -> str:
    """Two panels (req/s: longer is better; p99 ms: shorter is better), one pair of bars per row."""
    height = TOP + len(rows) * ROW_HEIGHT + 20
    width = LABEL_WIDTH + 2 * (PANEL_WIDTH + GAP + 60)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<rect x="10" y="8" width="12" height="10" fill="{COLOURS["perl"]}"/>',
        f'<text x="26" y="17">{escape(perl_label)}</text>',
        f'<rect x="110" y="8" width="12" height="10" fill="{COLOURS["ours"]}"/>',
        '<text x="126" y="17">ours</text>',
    ]
    for index, row in enumerate(rows):
        y = TOP + index * ROW_HEIGHT + BAR + 3
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y}" text-anchor="end">'
                     f"{escape(row.short_title)}</text>")  # fmt: skip
    parts += _panel(rows, LABEL_WIDTH, "req/s (longer is better)", lambda m: m.throughput_rps, "")
    p99_title = "p99 latency, ms, log scale (shorter is better)"
    parts += _panel(
        rows, LABEL_WIDTH + PANEL_WIDTH + GAP + 60, p99_title, lambda m: m.p99_ms, " ms", log=True
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

"""A self-contained HTML page with SVG charts of throughput and latency over time."""

from __future__ import annotations

import colorsys
import html
import math
from collections.abc import Iterator, Sequence
from typing import Any

WIDTH, HEIGHT, MARGIN_LEFT, MARGIN, LEGEND_ROW = 760, 260, 64, 40, 18
#: a second the run lasted less of than this is left out of the throughput chart (too few samples)
MIN_PLOTTED_SPAN = 0.5
#: well-separated colours first (Tableau 10), then golden-angle hues for any number of series
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

Series = tuple[str, Sequence[tuple[float, float]]]


def colours() -> Iterator[str]:
    """Distinct colours, as many as asked for."""
    yield from PALETTE
    hue = 0.0
    while True:
        hue = (hue + 0.381966) % 1.0
        red, green, blue = colorsys.hls_to_rgb(hue, 0.42, 0.75)
        yield f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (steps of 1, 2 or 5 times a power of ten)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)
    return [index * step for index in range(math.ceil(maximum / step - 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.6g}"


def _chart(title: str, unit: str, series: Sequence[Series], palette: Iterator[str]) -> str:
    """One SVG line chart with labelled ticks on both axes; each series its own colour."""
    points = [point for _, values in series for point in values]
    x_ticks = nice_ticks(max((x for x, _ in points), default=1.0))
    y_ticks = nice_ticks(max((y for _, y in points), default=1.0))
    x_max, y_max = x_ticks[-1], y_ticks[-1]
    legend_rows = math.ceil(len(series) / 3)
    height = HEIGHT + legend_rows * LEGEND_ROW
    bottom = HEIGHT - MARGIN
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN, bottom - MARGIN

    def x_at(x: float) -> float:
        return MARGIN_LEFT + x / x_max * plot_w

    def y_at(y: float) -> float:
        return bottom - y / y_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img">',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
    ]
    for tick in y_ticks:
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y_at(tick):.1f}" x2="{WIDTH - MARGIN}" y2="{y_at(tick):.1f}" '
            f'stroke="#ddd"/><text class="tick-y" x="{MARGIN_LEFT - 6}" y="{y_at(tick) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{_label(tick)}</text>'
        )
    for tick in x_ticks:
        parts.append(
            f'<line x1="{x_at(tick):.1f}" y1="{bottom}" x2="{x_at(tick):.1f}" y2="{bottom + 4}" '
            'stroke="#444"/>'
            f'<text class="tick-x" x="{x_at(tick):.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'font-size="11">{_label(tick)}</text>'
        )
    parts += [
        f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{WIDTH - MARGIN}" y2="{bottom}" stroke="#444"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN}" x2="{MARGIN_LEFT}" y2="{bottom}" stroke="#444"/>',
        f'<text x="{MARGIN_LEFT + plot_w / 2}" y="{bottom + 32}" text-anchor="middle" font-size="12">'
        "seconds since the start</text>",
        f'<text x="14" y="{MARGIN + plot_h / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {MARGIN + plot_h / 2})">{html.escape(unit)}</text>',
    ]
    for number, (name, values) in enumerate(series):
        colour = next(palette)
        dash = ' stroke-dasharray="5 3"' if name.endswith("p99") else ""
        if values:
            path = " ".join(f"{x_at(x):.1f},{y_at(y):.1f}" for x, y in values)
            parts.append(
                f'<polyline data-series="{html.escape(name)}" fill="none" stroke="{colour}" '
                f'stroke-width="1.5"{dash} points="{path}"/>'
            )
        row, column = divmod(number, 3)
        parts.append(
            f'<text x="{MARGIN_LEFT + 230 * column}" y="{bottom + 52 + row * LEGEND_ROW}" font-size="12" '
            f'fill="{colour}">— {html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _lines(report: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, timeline) of every line to draw: each run, and each host of a run on several hosts."""
    lines = []
    for result in report["results"]:
        targets = result.get("targets", [])
        lines.append((result["label"] + (" total" if len(targets) > 1 else ""), result["timeline"]))
        if len(targets) > 1:
            lines += [(f"{result['label']} {host['label']}", host["timeline"]) for host in targets]
    return lines


def throughput_points(rows: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """Requests per second, each second's count over the part of it the run lasted; a last second the
    run barely reached is left out rather than drawn as a drop."""
    return [
        (row["t"], row["requests"] / row.get("span_s", 1.0))
        for row in rows
        if row.get("span_s", 1.0) >= MIN_PLOTTED_SPAN
    ]


def render_html(report: dict[str, Any]) -> str:
    """The report's timelines as one HTML page with no outside resources."""
    palette = colours()  # one palette for the page: no two series share a colour
    lines = _lines(report)
    throughput = [(name, throughput_points(rows)) for name, rows in lines]
    latency: list[Series] = []
    for name, rows in lines:
        answered = [row for row in rows if row["requests"]]  # no requests: no latency, not 0 ms
        latency.append((f"{name} p50", [(row["t"], row["p50_ms"]) for row in answered]))
        latency.append((f"{name} p99", [(row["t"], row["p99_ms"]) for row in answered]))
    rows_html = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(part['target'])}</td>"
        f"<td>{part['requests']}</td><td>{part['throughput_rps']:.1f}</td><td>{part['latency_ms']['p50']:.2f}</td>"
        f"<td>{part['latency_ms']['p99']:.2f}</td><td>{part['latency_ms']['max']:.2f}</td>"
        f"<td>{part['errors']['unanswered']}</td></tr>"
        for name, part in _table_rows(report)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>policy-sim load report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:right}}</style></head>
<body><h1>policy-sim load report</h1>
<p>{html.escape(report["mode"])} loop, {report["duration_s"]} s, concurrency {report["concurrency"]},
started {html.escape(report["started_at"])}</p>
<table><tr><th>label</th><th>target</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th>
<th>max ms</th><th>unanswered</th></tr>{rows_html}</table>
{_chart("Throughput", "requests per second", throughput, palette)}
{_chart("Latency", "milliseconds", latency, palette)}
</body></html>
"""


def _table_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for result in report["results"]:
        targets = result.get("targets", [])
        rows.append((result["label"] + (" (total)" if len(targets) > 1 else ""), result))
        if len(targets) > 1:
            rows += [(f"{result['label']} {host['label']}", host) for host in targets]
    return rows

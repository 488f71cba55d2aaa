"""A self-contained HTML page with SVG charts of throughput and latency over time."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, MARGIN = 760, 240, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def _chart(title: str, unit: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> str:
    """One SVG line chart; ``series`` are (name, [(x, y), …])."""
    points = [point for _, values in series for point in values]
    x_max = max((x for x, _ in points), default=1.0) or 1.0
    y_max = max((y for _, y in points), default=1.0) or 1.0
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def scale(x: float, y: float) -> str:
        return f"{MARGIN + x / x_max * plot_w:.1f},{HEIGHT - MARGIN - y / y_max * plot_h:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" '
        'stroke="#444"/>',
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#444"/>',
        f'<text x="{MARGIN - 4}" y="{MARGIN + 4}" text-anchor="end" font-size="11">{y_max:.4g}</text>',
        f'<text x="{MARGIN - 4}" y="{HEIGHT - MARGIN}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - MARGIN + 16}" text-anchor="end" font-size="11">'
        f"{x_max:.0f} s</text>",
        f'<text x="12" y="{HEIGHT / 2}" font-size="11" transform="rotate(-90 12 {HEIGHT / 2})">'
        f"{html.escape(unit)}</text>",
    ]
    for number, (name, values) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        if values:
            path = " ".join(scale(x, y) for x, y in values)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        parts.append(
            f'<text x="{MARGIN + 8 + 190 * number}" y="{HEIGHT - 8}" font-size="12" fill="{colour}">'
            f"— {html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The report's timelines as one HTML page with no outside resources."""
    throughput, latency = [], []
    for result in report["results"]:
        rows = result["timeline"]
        throughput.append((result["label"], [(row["t"], row["requests"]) for row in rows]))
        latency.append((f"{result['label']} p50", [(row["t"], row["p50_ms"]) for row in rows]))
        latency.append((f"{result['label']} p99", [(row["t"], row["p99_ms"]) for row in rows]))
    rows_html = "".join(
        f"<tr><td>{html.escape(result['label'])}</td><td>{html.escape(result['target'])}</td>"
        f"<td>{result['throughput_rps']:.1f}</td><td>{result['latency_ms']['p50']:.2f}</td>"
        f"<td>{result['latency_ms']['p99']:.2f}</td><td>{result['latency_ms']['max']:.2f}</td>"
        f"<td>{result['errors']['unanswered']}</td></tr>"
        for result in report["results"]
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>policy-sim load report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:right}}</style></head>
<body><h1>policy-sim load report</h1>
<p>{html.escape(report["mode"])} loop, {report["duration_s"]} s, concurrency {report["concurrency"]},
started {html.escape(report["started_at"])}</p>
<table><tr><th>label</th><th>target</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th>
<th>unanswered</th></tr>{rows_html}</table>
{_chart("Throughput", "requests per second", throughput)}
{_chart("Latency", "milliseconds", latency)}
</body></html>
"""

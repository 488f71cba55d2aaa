"""The HTML report's charts: rates that do not drop at the partial last second, ticks, colours."""

from __future__ import annotations

import re
from typing import Any

import pytest
from policy_sim.plot import HEIGHT, MARGIN, nice_ticks, render_html


def timeline(requests: list[int], last_span: float) -> list[dict[str, Any]]:
    spans = [1.0] * (len(requests) - 1) + [last_span]
    return [
        {"t": t, "span_s": span, "requests": count, "errors": 0, "p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}
        for t, (count, span) in enumerate(zip(requests, spans, strict=True))
    ]


def result(label: str, requests: list[int], last_span: float = 1.0, targets: int = 1) -> dict[str, Any]:
    figures = {
        "label": label,
        "target": f"policy=127.0.0.1:{len(label)}",
        "requests": sum(requests),
        "throughput_rps": 100.0,
        "latency_ms": {"p50": 1.0, "p90": 1.5, "p99": 2.0, "max": 3.0, "mean": 1.2},
        "errors": {"unanswered": 0, "failed_attempts": 0, "by_kind": {}},
        "timeline": timeline(requests, last_span),
    }
    return {**figures, "targets": [{**figures, "label": f"mx{n}"} for n in range(targets)]}


def report(*results: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "closed",
        "duration_s": 3,
        "concurrency": 4,
        "started_at": "2024-01-01T00:00:00+00:00",
        "results": list(results),
    }


def polylines(page: str, chart: int) -> dict[str, list[tuple[float, float]]]:
    svg = page.split("<svg")[chart + 1]
    found = re.findall(r'<polyline data-series="([^"]+)"[^>]*points="([^"]+)"', svg)
    return {name: [coordinates(point) for point in points.split()] for name, points in found}


def coordinates(point: str) -> tuple[float, float]:
    x, y = point.split(",")
    return float(x), float(y)


def test_a_partial_last_second_is_not_drawn_as_a_drop() -> None:
    page = render_html(report(result("target", [100, 100, 100, 4], last_span=0.04)))
    [(name, points)] = polylines(page, 0).items()
    baseline, top = HEIGHT - MARGIN, MARGIN
    assert name == "target" and len(points) == 3
    assert all(y < (baseline + top) / 2 for _, y in points)  # every point near the top, none near zero


def test_a_second_the_run_half_lasted_is_drawn_at_its_rate() -> None:
    page = render_html(report(result("target", [100, 100, 50], last_span=0.5)))
    ys = [y for _, y in polylines(page, 0)["target"]]
    assert len(ys) == 3 and ys[0] == ys[1] == ys[2]


def test_both_axes_have_labelled_ticks() -> None:
    page = render_html(report(result("target", [240, 250, 230])))
    throughput = page.split("<svg")[1]
    assert re.findall(r'class="tick-y"[^>]*>([^<]+)<', throughput) == ["0", "50", "100", "150", "200", "250"]
    assert re.findall(r'class="tick-x"[^>]*>([^<]+)<', throughput) == ["0", "0.5", "1", "1.5", "2"]
    assert "seconds since the start" in throughput and "requests per second" in throughput


def test_every_series_on_the_page_has_its_own_colour() -> None:
    page = render_html(report(result("target", [10, 20], targets=3), result("baseline", [10, 20], targets=3)))
    colours = re.findall(r'<polyline data-series="[^"]+" fill="none" stroke="([^"]+)"', page)
    assert len(colours) == 8 + 16 and len(set(colours)) == len(colours)


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0.0, [0.0, 1.0]),
        (7.0, [0, 2, 4, 6, 8]),
        (250.0, [0, 50, 100, 150, 200, 250]),
        (0.3, [0, 0.1, 0.2, 0.3]),
    ],
)
def test_ticks_are_round_and_reach_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert nice_ticks(maximum) == pytest.approx(ticks)

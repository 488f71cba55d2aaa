"""Reading the daemon's HTTP endpoints: /metrics parsed into samples, /health's status."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

#: seconds an HTTP call may take (a /health probe gives a worker two)
HTTP_TIMEOUT = 30.0


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics: (name, labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=HTTP_TIMEOUT) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def samples_of(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str
) -> list[tuple[dict[str, str], float]]:
    """The samples called ``name``, with their labels."""
    return [(dict(labels), value) for (sample, labels), value in scraped.items() if sample == name]


def health_status(port: int) -> int:
    """The HTTP status /health answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=HTTP_TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code

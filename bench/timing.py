"""Server-side timing of portal pages through Django's own request handler."""

from __future__ import annotations

import statistics
import time


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(client, url: str, *, count: int = 200, warmup: int = 10, headers=None) -> dict:
    """Times ``count`` GETs of ``url`` (after a warm-up); milliseconds."""
    headers = headers or {}
    for _ in range(warmup):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    samples = []
    for _ in range(count):
        begin = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - begin) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
    }

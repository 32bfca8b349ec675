"""Server-side timing of portal pages through Django's own request handler."""

from __future__ import annotations

import statistics
import time


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure_against(client, url: str, baseline_url: str, *, count: int = 200) -> tuple[dict, dict]:
    """Times ``url`` and ``baseline_url`` alternately, so that both see the same machine.

    On two shared cores, a baseline measured a minute earlier can be 30 % off; taking
    the samples interleaved keeps the ratio about the page, not about the minute.
    """
    for _ in range(10):  # warm-up: caches, connections, compiled templates
        client.get(url)
        client.get(baseline_url)
    page, baseline = [], []
    for _ in range(count):
        for samples, target in ((page, url), (baseline, baseline_url)):
            begin = time.perf_counter()
            response = client.get(target)
            samples.append((time.perf_counter() - begin) * 1000)
            assert response.status_code == 200, (target, response.status_code)
    return summary(page), summary(baseline)


def summary(samples: list[float]) -> dict:
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
    }

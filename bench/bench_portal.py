"""Server time of portal pages against a trivial view measured in the same run.

The trivial view goes through the same middleware (sessions, auth, CSRF, CSP) and
does nothing else, so a ratio says what the page itself costs.
"""

from __future__ import annotations

from bench.django_env import portal_test_env, signed_in_client
from bench.timing import measure_against

COUNT = 200
TRIVIAL = "/healthz/trivial/"


def run(rec) -> None:
    with portal_test_env():
        from django.conf import settings

        from portal.backends import reset_backends

        client, _ = signed_in_client()

        def listed(count: int) -> None:
            settings.PORTAL_BACKENDS = {
                "listed": {
                    "BACKEND": "tests.fakes.doubles.ListBackend",
                    "OPTIONS": {"count": count},
                }
            }
            reset_backends()

        listed(25)
        page, trivial = measure_against(client, "/", TRIVIAL, count=COUNT)
        rec.figure("trivial view p50", trivial["p50"], "ms", target="baseline")
        rec.figure(
            "list page, 25 groups, p50",
            page["p50"],
            "ms",
            baseline=trivial["p50"],
            baseline_label="trivial view p50, interleaved",
        )

        listed(1000)
        big, trivial = measure_against(client, "/?sort=location&dir=desc", TRIVIAL, count=COUNT)
        rec.figure(
            "list page, 1,000 groups, p95",
            big["p95"],
            "ms",
            baseline=trivial["p95"],
            baseline_label="trivial view p95, interleaved",
            target="<= 50 ms",
            met=big["p95"] <= 50,
        )
        overview, trivial = measure_against(
            client, "/servergroups/listed/group-0500/", TRIVIAL, count=COUNT
        )
        rec.figure(
            "Overview p95 (1,000-group backend)",
            overview["p95"],
            "ms",
            baseline=trivial["p95"],
            baseline_label="trivial view p95, interleaved",
            target="<= 3x trivial",
            met=overview["p95"] <= 3 * trivial["p95"],
        )

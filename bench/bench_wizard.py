"""The wizard's server time per step, and OK-to-Ready in a real browser.

Step times go through Django's request handler in this process against a real
localcloud group, each as a ratio to the trivial view measured in the same run.
OK-to-Ready drives Chromium against a whole portal (bench/stack.py) and compares it
with the engine's own restore of the same demo group, also measured here.
"""

from __future__ import annotations

import time

from bench.django_env import portal_test_env, signed_in_client
from bench.stack import Stack
from bench.timing import measure_against
from tests import chromium

COUNT = 200


def step_times(rec) -> None:
    from localcloud.demo import ensure_demo
    from localcloud.testing import temporary_engine

    with temporary_engine(base_port=29432) as engine, portal_test_env():
        from django.conf import settings

        from portal.backends import reset_backends

        ensure_demo(engine)
        settings.PORTAL_BACKENDS = {
            "local": {
                "BACKEND": "portal.backends.local.LocalBackend",
                "OPTIONS": {"root": str(engine.root), "base_port": 29432},
            }
        }
        reset_backends()
        client, _ = signed_in_client()
        base = "/servergroups/local/citus-demo"
        pages = [
            ("Overview", f"{base}/"),
            ("step 1 (restore point)", f"{base}/restore/"),
            ("step 2 (details, earliest)", f"{base}/restore/details/?choice=earliest"),
            ("step 2 (details, custom)", f"{base}/restore/details/?choice=custom"),
            ("name check as you type", f"{base}/restore/check-name/?target_name=demo-copy"),
        ]
        for label, url in pages:
            timing, trivial = measure_against(client, url, "/healthz/trivial/", count=COUNT)
            ratio = timing["p95"] / trivial["p95"]
            rec.figure(
                f"{label} p95 (p50 {timing['p50']:.2f} ms)",
                timing["p95"],
                "ms",
                baseline=trivial["p95"],
                baseline_label="trivial view p95, interleaved",
                target="<= 3x trivial",
                met=ratio <= 3,
            )


def ok_to_ready(rec) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Stack(demo=True) as stack:
        engine = stack.engine()
        begin = time.monotonic()
        engine.restore("citus-demo", "direct-copy", None)
        direct = time.monotonic() - begin
        rec.figure(
            "engine restore of the demo group, call to Ready",
            direct,
            "s",
            target="<= 3 s",
            met=direct <= 3,
        )

        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=chromium.EXECUTABLE, headless=True, args=chromium.ARGS
            )
            page = browser.new_page()
            page.goto(f"{stack.url}/signin/")
            page.get_by_label("User name").fill("bench")
            page.get_by_label("Password").fill("bench-password-1")
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{stack.url}/servergroups/local/citus-demo/restore/details/?choice=earliest")
            page.get_by_label("Restore to new server").fill("browser-copy")
            begin = time.monotonic()
            page.get_by_role("button", name="OK").click()
            page.get_by_role("link", name="Follow the restore").first.click()
            try:
                expect(page.locator("#operation-state")).to_have_text("Succeeded", timeout=30_000)
            except AssertionError:
                print((stack.folder / "stderr.log").read_text()[-4000:])
                raise
            browser_seconds = time.monotonic() - begin
            browser.close()
        rec.figure(
            "browser: OK to the demo restore shown Ready",
            browser_seconds,
            "s",
            baseline=direct,
            baseline_label="engine restore, same group",
            target="<= 5 s",
            met=browser_seconds <= 5,
        )
        assert engine.get_group("browser-copy").status == "Ready"


def run(rec) -> None:
    step_times(rec)
    ok_to_ready(rec)

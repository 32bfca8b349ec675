"""Restore drills: a drill of the demo group from start to evidence recorded (every
check's result on the drill's row), its clean-up (the scratch group removed), and its
overhead over a plain restore of the same group to the same point; and what the idle
drill scheduler costs the portal's requests.

Runs alternate (drill, then the plain restore to the drill's own T), so both see the
same machine load; medians of 3. The idle figure alternates rounds without and with
``manage.py drill_scheduler`` running beside the whole portal (gunicorn, the task
worker, the watchdog), a daily schedule set for the demo group.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time

from bench.django_env import portal_test_env

BASE_PORT = 30932
RUNS = 3
IDLE_ROUNDS = int(os.environ.get("BENCH_DRILL_IDLE_ROUNDS", "4"))
IDLE_REQUESTS = int(os.environ.get("BENCH_DRILL_IDLE_REQUESTS", "100"))
IDLE_BASE_PORT = 33532 + int(os.environ.get("PORTAL_TEST_PORT_OFFSET", "0"))
SCHEDULE = """
from datetime import time, timedelta
from django.utils import timezone
from drills.models import DrillPlan
DrillPlan.objects.create(backend="local", group_name="citus-demo", frequency="daily",
    time_utc=time(3, 0), next_run_at=timezone.now() + timedelta(days=1))
"""


def run(rec) -> None:
    run_drills(rec)
    run_idle(rec)


def run_idle(rec) -> None:
    """The portal's request time with the drill scheduler idle beside it, and without."""
    from bench.stack import ROOT, Stack
    from bench.timing import summary

    stack = Stack(demo=True)
    stack.env["LOCALCLOUD_BASE_PORT"] = str(IDLE_BASE_PORT)
    with stack:
        stack.manage("shell", "-c", SCHEDULE)
        client = stack.client()
        pages = ("/", "/servergroups/local/citus-demo/", "/drills/")
        samples: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(10):  # warm-up
            for page in pages:
                client.get(page)
        for _ in range(IDLE_ROUNDS):
            for running in (False, True):
                scheduler = None
                if running:
                    scheduler = subprocess.Popen(
                        [sys.executable, "manage.py", "drill_scheduler"],
                        cwd=ROOT,
                        env=stack.env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                # Its start-up (Django's import) is not idle time: let it settle first.
                time.sleep(8)
                for index in range(IDLE_REQUESTS):
                    page = pages[index % len(pages)]
                    begin = time.perf_counter()
                    response = client.get(page)
                    samples[running].append((time.perf_counter() - begin) * 1000)
                    assert response.status_code == 200, (page, response.status_code)
                if scheduler is not None:
                    scheduler.send_signal(signal.SIGTERM)
                    scheduler.wait(timeout=30)
        with_it, without = summary(samples[True]), summary(samples[False])
        rec.figure(
            "portal request p50 (group list, Overview, Drills) with the drill scheduler idle",
            with_it["p50"],
            "ms",
            baseline=without["p50"],
            baseline_label="without the scheduler, interleaved rounds",
            target="<= 1.5x without",
            met=with_it["p50"] <= 1.5 * without["p50"],
        )
        rec.figure(
            "portal request p95 with the drill scheduler idle",
            with_it["p95"],
            "ms",
            baseline=without["p95"],
            baseline_label="without the scheduler",
        )


def run_drills(rec) -> None:
    from localcloud.demo import ensure_demo, write_once
    from localcloud.testing import temporary_engine

    with temporary_engine(base_port=BASE_PORT) as engine, portal_test_env():
        from django.conf import settings

        from drills import services
        from portal.backends import reset_backends

        ensure_demo(engine)
        settings.PORTAL_BACKENDS = {
            "local": {
                "BACKEND": "portal.backends.local.LocalBackend",
                "OPTIONS": {"root": str(engine.root), "base_port": BASE_PORT},
            }
        }
        reset_backends()
        evidence, totals, restores, readies, cleanups, checks = [], [], [], [], [], []
        for run_index in range(RUNS):
            write_once(engine)
            drill = services.drill_start(
                backend_key="local", group_name="citus-demo", trigger="cli"
            )
            begin = time.monotonic()
            drill = services.drill_run(drill_id=drill.pk)
            totals.append(time.monotonic() - begin)
            if drill.status != "passed":
                raise RuntimeError(f"drill {drill.pk} {drill.status}: {drill.message}")
            phases = {phase["name"]: phase["seconds"] for phase in drill.phases}
            readies.append(drill.rto_seconds)
            cleanups.append(phases["clean-up"])
            evidence.append(totals[-1] - phases["clean-up"])
            checks.append(phases["checks"])
            name = f"drill-bench-plain-{run_index}"
            begin = time.monotonic()
            engine.restore("citus-demo", name, drill.point)
            restores.append(time.monotonic() - begin)
            engine.delete_group(name)
        recorded, plain = statistics.median(evidence), statistics.median(restores)
        rec.figure(
            f"drill of the demo group, start to evidence recorded, median of {RUNS}",
            recorded,
            "s",
            baseline=plain,
            baseline_label="plain restore of the same group to the same point, median",
            target="<= 1.5x the plain restore",
            met=recorded <= 1.5 * plain,
        )
        total = statistics.median(totals)
        rec.figure(
            "drill of the demo group, start to finished (clean-up included), median",
            total,
            "s",
            baseline=plain,
            baseline_label="plain restore, same runs",
        )
        rec.figure(
            "drill: time to Ready (the measured RTO), median", statistics.median(readies), "s"
        )
        rec.figure("drill: checks on 3 nodes, median", statistics.median(checks), "s")
        rec.figure("drill: clean-up of the scratch group, median", statistics.median(cleanups), "s")

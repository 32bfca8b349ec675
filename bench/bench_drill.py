"""Restore drills: a drill of the demo group from start to evidence recorded (every
check's result on the drill's row), its clean-up (the scratch group removed), and its
overhead over a plain restore of the same group to the same point.

Runs alternate (drill, then the plain restore to the drill's own T), so both see the
same machine load; medians of 3.
"""

from __future__ import annotations

import statistics
import time

from bench.django_env import portal_test_env

BASE_PORT = 30932
RUNS = 3


def run(rec) -> None:
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

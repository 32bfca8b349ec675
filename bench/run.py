"""Runs every benchmark in bench/ and writes bench/results/latest.json and latest.md.

Each ``bench/bench_*.py`` module exposes ``run(rec)`` and records figures with
``rec.figure(...)``, each beside a baseline measured in the same run. A benchmark
that fails is reported as such; a figure never fails the build.

    python bench/run.py                # all
    python bench/run.py portal         # only bench_portal.py
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


class Recorder:
    def __init__(self):
        self.figures: list[Figure] = []
        self.failures: list[dict] = []
        self.current = ""

    def figure(self, name, value, unit, *, baseline=None, baseline_label="", target="", met=None):
        item = Figure(self.current, name, float(value), unit, baseline, baseline_label, target, met)
        self.figures.append(item)
        shown = f"{item.value:.3f} {unit}"
        if item.ratio is not None:
            shown += f" ({item.ratio:.2f}x {baseline_label or 'baseline'})"
        verdict = "" if met is None else ("  met" if met else "  NOT met")
        print(f"  {name}: {shown}  target {target or '-'}{verdict}", flush=True)


def markdown(recorder: Recorder, started: datetime) -> str:
    lines = [
        f"# Benchmark results ({started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()})",
        "",
        "| benchmark | figure | value | baseline (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in recorder.figures:
        baseline = "" if f.baseline is None else f"{f.baseline:.3f} {f.unit} ({f.baseline_label})"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        met = "" if f.met is None else ("yes" if f.met else "no")
        lines.append(
            f"| {f.bench} | {f.name} | {f.value:.3f} {f.unit} | {baseline} | {ratio} | "
            f"{f.target} | {met} |"
        )
    for failure in recorder.failures:
        lines.append(f"| {failure['bench']} | did not run | {failure['error']} | | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    wanted = set(argv)
    names = sorted(p.stem[len("bench_") :] for p in (ROOT / "bench").glob("bench_*.py"))
    recorder = Recorder()
    started = datetime.now(UTC)
    for name in names:
        if wanted and name not in wanted:
            continue
        recorder.current = name
        print(f"[{name}]", flush=True)
        begin = time.monotonic()
        try:
            importlib.import_module(f"bench.bench_{name}").run(recorder)
        except Exception as error:
            traceback.print_exc()
            recorder.failures.append({"bench": name, "error": f"{type(error).__name__}: {error}"})
        print(f"[{name}] {time.monotonic() - begin:.1f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "started": started.isoformat(),
        "cores": os.cpu_count(),
        "figures": [asdict(f) | {"ratio": f.ratio} for f in recorder.figures],
        "failures": recorder.failures,
    }
    # A partial run must not hide the last full run's figures.
    stem = "latest" if not wanted else "partial-" + "-".join(sorted(wanted))
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    (RESULTS / f"{stem}.md").write_text(markdown(recorder, started))
    print(f"Wrote {RESULTS / f'{stem}.json'} and {RESULTS / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

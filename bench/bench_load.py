"""Load: 20 signed-in clients for 60 s against a whole portal (gunicorn, 2 workers).

Each client loops over the pages a DBA uses (the list, an Overview, the wizard's
steps, the name check, the bell's poll), bounded by time and by a request cap. Then a
3-node restore is timed alone and again under the same load.

BENCH_LOAD_SECONDS and BENCH_LOAD_CLIENTS shorten or widen the run.
"""

from __future__ import annotations

import os
import threading
import time

from bench.stack import Stack
from bench.timing import percentile

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "20"))
MAX_REQUESTS_PER_CLIENT = 20_000  # a hard bound, whatever the machine's speed
BASE = "/servergroups/local/citus-demo"
PAGES = [
    "/",
    f"{BASE}/",
    f"{BASE}/restore/",
    f"{BASE}/restore/details/?choice=earliest",
    f"{BASE}/restore/details/?choice=custom",
    f"{BASE}/restore/check-name/?target_name=load-test",
    "/notifications/badge/?after=0",
]


class Load:
    def __init__(self, stack: Stack, clients: int, seconds: float):
        self.stack = stack
        self.clients = [stack.client() for _ in range(clients)]
        self.seconds = seconds
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def work(self, client) -> None:
        latencies, errors = [], []
        index = 0
        while not self.stop.is_set() and index < MAX_REQUESTS_PER_CLIENT:
            url = PAGES[index % len(PAGES)]
            index += 1
            headers = {"HX-Request": "true"} if "badge" in url else {}
            begin = time.perf_counter()
            try:
                response = client.get(url, headers=headers)
                if response.status_code != 200:
                    errors.append(f"{url}: HTTP {response.status_code}")
            except Exception as error:
                errors.append(f"{url}: {type(error).__name__}")
            latencies.append((time.perf_counter() - begin) * 1000)
        with self.lock:
            self.latencies.extend(latencies)
            self.errors.extend(errors)

    def run_in_background(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.work, args=(c,)) for c in self.clients]
        for thread in threads:
            thread.start()
        timer = threading.Timer(self.seconds, self.stop.set)
        timer.start()
        return [*threads, timer]


def timed_restore(engine, target: str) -> float:
    begin = time.monotonic()
    engine.restore("citus-demo", target, None)
    return time.monotonic() - begin


def run(rec) -> None:
    with Stack(demo=True) as stack:
        engine = stack.engine()
        quiet = timed_restore(engine, "quiet-copy")

        load = Load(stack, CLIENTS, SECONDS)
        began = time.monotonic()
        threads = load.run_in_background()
        time.sleep(min(5.0, SECONDS / 4))  # let the load settle before the restore
        loaded = timed_restore(engine, "loaded-copy")
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began

        samples = load.latencies
        rec.figure(
            f"throughput, {CLIENTS} clients, {SECONDS:g} s",
            len(samples) / elapsed,
            "req/s",
            target="reported",
        )
        rec.figure("latency p50", percentile(samples, 0.5), "ms", target="reported")
        rec.figure("latency p95", percentile(samples, 0.95), "ms", target="reported")
        p99 = percentile(samples, 0.99)
        rec.figure("latency p99", p99, "ms", target="<= 200 ms", met=p99 <= 200)
        rec.figure(
            "errors",
            len(load.errors),
            "requests",
            target="0",
            met=not load.errors,
        )
        if load.errors:
            print("  first errors:", load.errors[:5])
        rec.figure(
            "3-node restore under load",
            loaded,
            "s",
            baseline=quiet,
            baseline_label="same restore without load",
            target="reported",
        )

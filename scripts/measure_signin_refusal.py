"""Server time of a sign-in refused by the lockout, against a wrong password checked.

Runs the portal in this process on a throw-away SQLite database with the real password
hasher, locks an account with 20 wrong passwords, then times 200 refused attempts
(through the whole middleware stack) as wall-clock and CPU time, medians and p95.

    .venv/bin/python scripts/measure_signin_refusal.py
"""

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR_DIR = tempfile.mkdtemp(prefix="signin-measure-")
os.environ["PORTAL_VAR_DIR"] = VAR_DIR
os.environ["PORTAL_BACKENDS"] = ""
os.environ["PORTAL_LOG_LEVEL"] = "ERROR"
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402


def timed(attempt) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    attempt()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def summary(label: str, samples: list[tuple[float, float]]) -> None:
    for index, kind in enumerate(("wall", "CPU")):
        values = sorted(sample[index] for sample in samples)
        p95 = values[int(len(values) * 0.95) - 1]
        print(f"{label:40} {kind:4} median {statistics.median(values):8.2f} ms  p95 {p95:8.2f} ms")


def main() -> None:
    call_command("migrate", verbosity=0)
    get_user_model().objects.create_user("measured", password="the-right-password-1")
    client = Client(HTTP_HOST="localhost")

    def attempt(password: str):
        return lambda: client.post(
            "/signin/", {"username": "measured", "password": password}, REMOTE_ADDR="127.0.0.5"
        )

    checked = [timed(attempt("wrong-password")) for _ in range(19)]
    client.post("/signin/", {"username": "measured", "password": "wrong"}, REMOTE_ADDR="127.0.0.5")
    refused = [timed(attempt("the-right-password-1")) for _ in range(200)]
    status = client.post(
        "/signin/", {"username": "measured", "password": "x"}, REMOTE_ADDR="127.0.0.5"
    ).status_code
    assert status == 429, status
    summary("wrong password, checked (19 attempts)", checked)
    summary("refused while locked (200 attempts)", refused)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(VAR_DIR, ignore_errors=True)

"""A whole portal, as `make run` starts it, in a throwaway folder: gunicorn (2 workers),
the task worker, the watchdog and localcloud with the demo group.

The portal's database is whatever DATABASE_URL says (`make bench` runs under
scripts/with-portal-postgres, so PostgreSQL); everything else lives under a temporary
root that is removed, with every process, when the stack stops.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
CREATE_USER = f"""
from django.contrib.auth.models import Group, User
User.objects.filter(username="bench").delete()
user = User.objects.create_user(username="bench", password="{PASSWORD}")
user.groups.add(Group.objects.get_or_create(name="Restore operators")[0])
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    def __init__(self, *, demo: bool = True, workers: int = 2):
        self.demo = demo
        self.gunicorn_workers = workers
        self.folder = Path(tempfile.mkdtemp(prefix="portal-bench-", dir="/tmp"))
        self.folder.chmod(0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PORTAL_VAR_DIR": str(self.folder / "var"),
            "LOCALCLOUD_ROOT": str(self.folder / "localcloud"),
            "PORTAL_BACKENDS": "local",
            "PORTAL_LOG_LEVEL": "WARNING",
            "DEBUG": "false",
            "PYTHONPATH": str(ROOT),
        }
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> Stack:
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.manage("shell", "-c", CREATE_USER)
        if self.demo:
            self.manage("localcloud_demo")
        bin_dir = Path(sys.executable).parent
        commands = [
            [
                str(bin_dir / "gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.gunicorn_workers),
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval",
                "0.2",
                "--no-startup-delay",
                "--no-reload",
            ],
            [sys.executable, "manage.py", "restore_watchdog"],
        ]
        for command in commands:
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(self.folder / "stderr.log", "ab"),
                )
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/signin/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the portal did not start within 30 s")

    def client(self) -> httpx.Client:
        """An httpx client signed in as the bench operator."""
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        client.get("/signin/")
        client.post(
            "/signin/",
            data={
                "username": "bench",
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert "sessionid" in client.cookies, "sign-in failed"
        return client

    def engine(self):
        from localcloud import Engine

        return Engine(self.folder / "localcloud")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        from localcloud.testing import kill_under, remove_os_users

        engine = self.engine()
        try:
            engine.stop_all()
        finally:
            kill_under(self.folder)
            remove_os_users(engine)
            shutil.rmtree(self.folder, ignore_errors=True)
            shutil.rmtree(engine.socket_dir, ignore_errors=True)
            shutil.rmtree(engine.sockets_root, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

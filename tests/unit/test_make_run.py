"""make run's ending: the new admin password last, in a box; Ctrl-C ends cleanly."""

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_HONCHO = """#!/usr/bin/env python3
import signal, sys, time
print("honcho: started", flush=True)
try:
    time.sleep(60)
except KeyboardInterrupt:
    print("honcho: stopping every process", flush=True)
    sys.exit(130)
"""


def read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_serve_shows_the_password_in_a_box_and_ctrl_c_exits_zero(tmp_path):
    honcho = tmp_path / "honcho"
    honcho.write_text(FAKE_HONCHO.replace("python3", sys.executable, 1))
    honcho.chmod(0o755)
    (tmp_path / "admin-password").write_text("admin\ns3cret-Pa55word\n")
    env = {
        **os.environ,
        "PORTAL_HONCHO": str(honcho),
        "PORTAL_VAR_DIR": str(tmp_path),
        "PORTAL_PORT": "8123",
    }

    pid, fd = pty.fork()
    if pid == 0:  # the child: the script on a terminal, as make runs it
        os.chdir(ROOT)
        os.execve(str(ROOT / "scripts" / "serve"), ["serve"], env)
    deadline = time.monotonic() + 30
    before = read_until(fd, b"honcho: started", deadline)
    os.write(fd, b"\x03")  # Ctrl-C on the terminal reaches the whole foreground group
    after = read_until(fd, b"Stopped", deadline)
    after += read_until(fd, b"\n", time.monotonic() + 2)
    _, status = os.waitpid(pid, 0)
    os.close(fd)

    text = before.decode()
    box = text[text.index("+--") : text.index("Serving the portal")]
    assert "| Password:             s3cret-Pa55word" in box
    assert box.strip().endswith("+")
    assert text.index("s3cret-Pa55word") < text.index("Serving the portal on http://127.0.0.1:8123")
    assert not (tmp_path / "admin-password").exists()  # shown once
    assert b"Stopped: every process of the portal has ended." in after
    assert os.waitstatus_to_exitcode(status) == 0


def test_make_run_hands_the_end_to_the_serve_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "@scripts/serve" in makefile
    assert "export PIP_DISABLE_PIP_VERSION_CHECK" in makefile
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "serve")]).returncode == 0

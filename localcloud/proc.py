"""Processes and ports on this machine: which TCP ports are free, whether the process
that owns a piece of work still lives, and running work on several nodes at once.

A process is named by its pid together with the kernel's start time of that pid
(``owner_record``): a pid alone may be reused by another program after a crash, the
pair names one process for good. Work left by an owner that is no longer alive
(``owner_alive``) may be taken over or cleaned up.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import LocalCloudError
from .records import Owner

HOST = "127.0.0.1"  # every node listens here (and on its Unix socket)


def port_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of ``HOST`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, above: int, taken: Iterable[int]) -> list[int]:
    """``count`` ports from ``above`` upwards, none of them ``taken`` and none in use."""
    taken = set(taken)
    ports: list[int] = []
    port = above
    while len(ports) < count:
        if port > 65535:
            raise LocalCloudError(f"No free TCP port above {above} on {HOST}.")
        if port not in taken and port_free(port):
            ports.append(port)
        port += 1
    return ports


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid``: with the pid it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_record() -> Owner:
    """This process, as the owner of work recorded in the catalog."""
    return {"pid": os.getpid(), "start": process_start(os.getpid()), "host": socket.gethostname()}


def owner_alive(owner: Owner | None) -> bool:
    """Whether the process ``owner_record`` named still runs (on this machine)."""
    if not owner or owner.get("host") != socket.gethostname():
        return False
    return process_start(owner["pid"]) == owner.get("start")


def in_parallel[T](items: list, work: Callable[..., T]) -> list[T]:
    """Run ``work`` on every item in threads; every call finishes before the first error
    is raised, so a caller cleaning up never races a thread still creating things."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(work, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]

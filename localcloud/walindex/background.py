"""Index passes a page asks for, run in a thread of this process without blocking it.

Opening the restore wizard's custom step asks for a seal and a pass so that the newest
events show without waiting for the agent. One thread per group at most: a request
made while a pass runs is answered by one more pass when it ends (requests made during
a pass may not be covered by it, as the pass may have read the archive before them).
Requests and answers are kept in the index (``passes``), so any web process can tell a
page polling for its token whether the pass it asked for has finished, and how.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalCloudError
from . import store

log = logging.getLogger("localcloud.walindex")

# A request not answered in this long was lost (its process ended): say so.
LOST_AFTER_SECONDS = 120


@dataclass
class _Run:
    wanted: int | None  # the newest request not begun yet


_lock = threading.Lock()
_runs: dict[tuple[str, str], _Run] = {}


def start(root: Path, group: str, work: Callable[[], None]) -> str:
    """Ask for ``work`` (a seal and a pass over ``group``) to run in the background;
    returns at once with the request's token."""
    token = store.request_pass(root, group, time.time_ns() // 1000)
    key = (str(root), group)
    with _lock:
        run = _runs.get(key)
        if run is not None:
            run.wanted = token  # the running thread does one more pass for it
            return str(token)
        run = _runs[key] = _Run(wanted=token)
    thread = threading.Thread(
        target=_loop, args=(root, group, work, run, key), name=f"walindex {group}", daemon=True
    )
    thread.start()
    return str(token)


def _loop(root: Path, group: str, work: Callable[[], None], run: _Run, key) -> None:
    while True:
        with _lock:
            token = run.wanted
            if token is None:
                del _runs[key]
                return
            run.wanted = None
        error = ""
        try:
            work()
        except LocalCloudError as failure:
            error = str(failure)
        except Exception:  # a thread's failure must still answer the page waiting for it
            log.exception("index pass over %s failed", group)
            error = "The index pass failed unexpectedly; the portal's log says why."
        try:
            store.finish_pass(root, group, token, error)
        except Exception:
            log.exception("could not record the end of the index pass over %s", group)


def state(root: Path, group: str, token: str) -> tuple[bool, str]:
    """(finished, why it failed) for the request ``token`` of ``group``."""
    try:
        asked = int(token)
    except ValueError:
        return True, ""  # not a token of ours: nothing to wait for
    finished, error = store.pass_state(root, group)
    if finished >= asked:
        return True, error
    if time.time_ns() // 1000 - asked > LOST_AFTER_SECONDS * 1_000_000:
        return True, (
            "The index pass asked for did not finish (its process may have ended); "
            "index the latest WAL again."
        )
    return False, ""

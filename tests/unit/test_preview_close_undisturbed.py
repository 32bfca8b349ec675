"""``servergroups preview``: a Ctrl-C while the preview is being closed waits until it is
closed, then interrupts the command (an interrupted close would leave a server running)."""

import os
import signal
import threading

import pytest

from portal.backends.base import BackendError
from portal.management.preview_session import close_undisturbed


class Backend:
    def __init__(self, fail: bool = False):
        self.closed: list[str] = []
        self.fail = fail

    def preview_close(self, preview_id: str) -> bool:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again, in the middle of the close
        self.closed.append(preview_id)  # still reached: the signal is held
        if self.fail:
            raise BackendError("already gone")
        return True


@pytest.fixture
def ctrl_c_interrupts():
    """Python's own Ctrl-C handling, also in a test run started with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("fail", [False, True])
def test_ctrl_c_during_the_close_acts_once_the_preview_is_closed(fail, ctrl_c_interrupts):
    backend = Backend(fail)
    with pytest.raises(KeyboardInterrupt):
        close_undisturbed(backend, "0123456789ab")
    assert backend.closed == ["0123456789ab"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_ctrl_c_is_also_held_while_other_threads_run(ctrl_c_interrupts):
    """The kernel may hand a signal sent to the process to any of its threads."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        backend = Backend()
        with pytest.raises(KeyboardInterrupt):
            close_undisturbed(backend, "0123456789ab")
        assert backend.closed == ["0123456789ab"]
    finally:
        stop.set()
        other.join()


def test_an_ignored_ctrl_c_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        backend = Backend()
        close_undisturbed(backend, "0123456789ab")  # no KeyboardInterrupt
        assert backend.closed == ["0123456789ab"]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)

"""The lifeline pipe: a worker sees end of file once the master's end is closed, however it dies."""

from __future__ import annotations

import os
import signal
import time

from mtpolicyd_server.lifeline import Lifeline


def test_master_gone_once_every_write_end_is_closed() -> None:
    lifeline = Lifeline()
    try:
        assert not lifeline.master_gone()
        os.close(lifeline.write_fd)
        assert lifeline.master_gone()
    finally:
        lifeline.close()


def test_a_killed_master_is_noticed_by_its_worker() -> None:
    """A master process forks a worker and is SIGKILLed; the worker reports through a pipe."""
    report_read, report_write = os.pipe()
    master = os.fork()
    if master == 0:  # the master
        lifeline = Lifeline()
        if os.fork() == 0:  # its worker: ignores the death signal, waits for the pipe's end
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            lifeline.in_worker()
            deadline = time.monotonic() + 60
            while not lifeline.master_gone() and time.monotonic() < deadline:
                time.sleep(0.05)
            os.write(report_write, b"gone" if lifeline.master_gone() else b"lost")
            os._exit(0)
        time.sleep(600)
        os._exit(0)
    os.close(report_write)
    time.sleep(0.5)
    os.kill(master, signal.SIGKILL)
    os.waitpid(master, 0)
    assert os.read(report_read, 4) == b"gone"
    os.close(report_read)

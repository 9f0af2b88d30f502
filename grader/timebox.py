"""Run a pure computation in a forked process that is killed when its time is up.

SymPy's simplification can run for minutes on an innocent-looking expression
and cannot be interrupted from inside; a fork can simply be killed. Only a
boolean comes back (one byte over a pipe), so nothing is deserialised.
"""
from __future__ import annotations

import os
import select
import signal
import time
from typing import Callable


def timeboxed_predicate(predicate: Callable[[], bool], seconds: float) -> bool | None:
    """True/False as ``predicate`` answers, or None if it raised or ran out of time."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the fork
        os.close(read_fd)
        try:
            answer = b"1" if predicate() else b"0"
        except BaseException:
            answer = b"?"
        os.write(write_fd, answer)
        os._exit(0)
    os.close(write_fd)
    try:
        deadline = time.monotonic() + seconds
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        data = os.read(read_fd, 1) if ready else b""
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return {b"1": True, b"0": False}.get(data)

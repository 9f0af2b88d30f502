"""Ending what a sandbox started: a process group, or a bwrap PID namespace
held by a pidfd on its init, as a whole."""
from __future__ import annotations

import json
import os
import select
import signal
import time


def init_pidfd(info_fd: int, deadline: float) -> int:
    """A pidfd on the PID namespace's init, from bwrap's --info-fd JSON (closes
    ``info_fd``). Raises TimeoutError or OSError when bwrap does not say."""
    data = b""
    try:
        os.set_blocking(info_fd, False)
        poller = select.poll()
        poller.register(info_fd, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("bwrap did not report its namespace")
            poller.poll(left * 1000)
            try:
                chunk = os.read(info_fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        os.close(info_fd)
    try:
        pid = int(json.loads(data)["child-pid"])
        return os.pidfd_open(pid)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise OSError(f"bwrap did not start its namespace ({exc})") from None


def end(pidfd: int) -> None:
    """SIGKILL the namespace's init and wait until it is gone: the kernel kills
    every other process of the namespace before init's exit completes, so no
    process in it outlives this call. Closes ``pidfd``."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll(5000)
    finally:
        os.close(pidfd)


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (it started its own session, so
    nothing in it can leave), and ``pid`` itself should it have died between
    the two checks."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

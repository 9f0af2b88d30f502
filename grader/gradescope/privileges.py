"""Keeping student code away from the grader inside the container: who it runs
as, what that user can reach, and making sure nothing of it outlives grading.

The sandbox's audit hook already refuses most of this from inside the
process; the rules here hold even if student code gets past the hook, because
the kernel enforces them: a different uid, folders it cannot enter, and no
process of that uid left alive when results are written.
"""
from __future__ import annotations

import os
import pwd
import signal
import time
from typing import NamedTuple

from .layout import Paths


class PrivilegeError(RuntimeError):
    """The container is not set up for safe grading: a grader problem."""


class Identity(NamedTuple):
    """The sandbox user; the worker turns it into the sandbox's RunAs (kept
    apart so that the supervisor does not import the sandbox, and NumPy)."""
    uid: int
    gid: int


def sandbox_identity(user: str) -> Identity | None:
    """The identity student code runs as; None when the grader is not root,
    which happens only in local dry runs (there is nobody to switch to)."""
    if os.geteuid() != 0:
        return None
    if not user:
        raise PrivilegeError("running as root, but no sandbox user is configured; student code "
                             "will not be run as root")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"the sandbox user {user!r} does not exist (setup.sh creates it); "
                             "student code will not be run as root") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise PrivilegeError(f"the sandbox user {user!r} has uid or gid 0")
    return Identity(entry.pw_uid, entry.pw_gid)


def secure(paths: Paths) -> None:
    """Everything under the root but the venv becomes root's alone.

    The root stays enterable (the venv's interpreter lives below it) but not
    listable; the metadata file holds earlier results, hidden tests included."""
    os.chmod(paths.root, 0o711)
    paths.results.mkdir(exist_ok=True)
    for folder in (paths.source, paths.submission, paths.results):
        if folder.is_dir():
            os.chmod(folder, 0o700)
    if paths.metadata.exists():
        os.chmod(paths.metadata, 0o600)


def _uids(pid: str) -> tuple[set[int], str]:
    """(real, effective, saved and filesystem uids; state letter) of a process."""
    uids, state = set(), ""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                uids = {int(x) for x in line.split()[1:]}
            elif line.startswith("State:"):
                state = line.split()[1]
    return uids, state


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes with ``uid`` among any of their uids."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            uids, state = _uids(entry.name)
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while we looked
        if uid in uids and state != "Z":
            found.append(int(entry.name))
    return found


def reap(uid: int, attempts: int = 200) -> list[int]:
    """SIGKILL every process of ``uid`` until none is left; the pids killed.

    Repeated because a process can fork between the scan and the kill (the
    sandbox sets RLIMIT_NPROC to 0, so in practice one pass suffices)."""
    if uid == 0 or uid == os.geteuid():
        raise PrivilegeError(f"refusing to kill every process of uid {uid}: it is not a sandbox user")
    killed: list[int] = []
    for _ in range(attempts):
        pids = processes_of(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            if pid not in killed:
                killed.append(pid)
        time.sleep(0.01)  # SIGKILL is asynchronous: give the kernel a moment to tear them down
    raise PrivilegeError(f"processes of uid {uid} are still alive after {attempts} rounds of "
                         f"SIGKILL: {processes_of(uid)[:10]}")


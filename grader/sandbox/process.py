"""One sandbox child process: how it is started, and how it is read and killed.

A child is either forked by the warm template (zygote.py: the common case,
milliseconds) or started cold (``_Cold``: a fresh interpreter, under bwrap
when namespaces are available). Either way every read from it has a
deadline, and a child that misses one, dies, or sends anything but a
well-formed frame is gone (``_Gone``) and is killed with everything it
started. The Sandbox (runner.py) decides what to do next.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Protocol

from . import isolation, pidns, wire, zygote
from .exprtree import MAX_DEPTH, MAX_NODES
from .staging import BLOCKED_IMPORTS, CHILD_SCRIPT, RunAs, launch, stage

if TYPE_CHECKING:  # runner imports this module; the annotation alone needs Limits
    from .runner import Limits

__all__ = ["CHILD_SCRIPT", "RunAs", "SandboxError"]


class SandboxError(RuntimeError):
    """A failure of the grader, not the student: the child cannot start, or the
    preamble failed. ``detail`` holds what the child reported (its stderr or
    the preamble's error)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(f"{message}: {detail}" if detail else message)
        self.message = message
        self.detail = detail


class _Gone(Exception):
    """The child can no longer be used; ``status`` is timeout, crash or memory."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Launched(Protocol):
    """A started child, as the two launchers (``_Cold``, zygote.Forked) give it."""
    rfd: int                  # the grader's ends of the two pipes
    wfd: int
    work_inside: str          # its working folder, as the child sees it
    reads: tuple[str, ...]    # what it may read (Landlock's read list)

    def ended(self, wait_first: float) -> tuple[int | None, int, bool]:
        """For a child that closed its pipe: (wait status or None when unknown,
        peak memory in bytes, whether it had to be killed to end)."""

    def stop(self) -> None:
        """SIGKILL it and all it started, reap it, release pipes and files. Idempotent."""

    def stderr_tail(self) -> str:
        """What it wrote to stderr before its handshake ("" when not kept)."""


class _Child:
    """One child process and its two pipes. Every read has a deadline."""

    @staticmethod
    def isolation_for(limits: Limits) -> isolation.Isolation:
        """The layers a child gets under ``limits``; refuses without a kernel wall."""
        iso = isolation.probe(sys.executable, limits.run_as).only(limits.layers)
        if not iso.walled and not limits.unsafe_no_isolation:
            raise SandboxError(
                "refusing to run student code: no isolation layer the kernel enforces "
                "(namespaces, landlock, seccomp) is available here", iso.summary() +
                "; pass unsafe_no_isolation=True (--unsafe-no-isolation) to grade anyway, "
                "with only the audit hook and rlimits between student code and this machine")
        return iso

    @classmethod
    def prepare(cls, limits: Limits, protected: tuple[str, ...], wait: bool = True) -> None:
        """What children under ``limits`` will share (the warm template), made
        now; without ``wait``, only started."""
        iso = cls.isolation_for(limits)
        if limits.warm and zygote.can_fork(iso):
            if wait:
                zygote.prepare(iso, limits.run_as, protected)
            else:
                zygote.start(iso, limits.run_as, protected)

    def __init__(self, limits: Limits, protected: tuple[str, ...], deadline: float):
        self.limits = limits
        self.killed_by_us = False
        self.iso = self.isolation_for(limits)
        if limits.warm and zygote.can_fork(self.iso):
            self.proc: Launched = zygote.spawn(self.iso, limits.run_as, protected, deadline)
        else:
            self.proc = _Cold(self.iso, limits.run_as, protected, deadline)
        self.rfd, self.wfd = self.proc.rfd, self.proc.wfd
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)
        self._pollers: dict[int, select.poll] = {}
        self.closed = False
        landlock = None
        if self.iso.has("landlock"):
            landlock = [[*isolation.SYSTEM, *self.proc.reads, *isolation.DEVICES],
                        [self.proc.work_inside, "/dev/null"]]
        config = {
            "workdir": self.proc.work_inside,
            "protected": list(protected), "blocked": list(BLOCKED_IMPORTS),
            "memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
            "file_bytes": limits.file_bytes, "output_bytes": limits.output_bytes,
            "frame_bytes": limits.frame_bytes, "seed": limits.seed,
            # Room for the envelope and for output escaped as \\uXXXX.
            "value_bytes": limits.frame_bytes - 6 * limits.output_bytes - 65536,
            "nesting": wire.MAX_NESTING, "expr_nodes": MAX_NODES, "expr_depth": MAX_DEPTH,
            "landlock": landlock, "seccomp": self.iso.has("seccomp"),
        }
        try:
            self.send(config, deadline)
            hello = self.recv(deadline)
            if "hello" not in hello:
                raise _Gone("crash", f"unexpected first frame {sorted(hello)}")
        except _Gone as gone:
            stderr = self.proc.stderr_tail()
            self.kill()
            raise SandboxError(f"the sandbox child did not start ({gone.message})",
                               stderr) from None

    # -- reading and writing, each bounded by a deadline ---------------------

    def _wait(self, fd: int, event: int, deadline: float) -> None:
        poller = self._pollers.get(fd)
        if poller is None:
            poller = self._pollers[fd] = select.poll()
            poller.register(fd, event)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Gone("timeout", "")
            if poller.poll(left * 1000):
                return

    def send(self, payload: dict, deadline: float) -> None:
        data = memoryview(wire.dump_frame(payload))
        while data:
            try:
                data = data[os.write(self.wfd, data):]
            except BlockingIOError:
                self._wait(self.wfd, select.POLLOUT, deadline)
            except BrokenPipeError:
                raise self._death() from None

    def _read_exact(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if time.monotonic() > deadline:
                raise _Gone("timeout", "")
            try:
                chunk = os.read(self.rfd, min(n - len(buf), 1 << 20))
            except BlockingIOError:
                self._wait(self.rfd, select.POLLIN, deadline)
                continue
            if not chunk:
                raise self._death()
            buf += chunk
        return bytes(buf)

    def recv(self, deadline: float) -> dict:
        (n,) = wire.HEADER.unpack(self._read_exact(4, deadline))
        if n > self.limits.frame_bytes:
            raise self._garbage(f"a frame of {n} bytes, over the {self.limits.frame_bytes} limit")
        try:
            return wire.load_body(self._read_exact(n, deadline))
        except wire.WireError as exc:
            raise self._garbage(exc.message) from None

    def _garbage(self, detail: str) -> _Gone:
        self.kill()
        return _Gone("crash", "the process running your code sent the grader data it could "
                              f"not read ({detail}); was something written to its pipes?")

    def _death(self) -> _Gone:
        """Say how a child that closed its end ended."""
        status, peak, killed = self.proc.ended(wait_first=1.0)
        if self.killed_by_us or killed:
            self.killed_by_us = True
            return _Gone("crash", "the process running your code was stopped")
        if status is None:
            return _Gone("crash", "the Python process running your code ended abruptly")
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        if sig:
            if sig == signal.SIGXCPU:
                return _Gone("timeout", f"used more than {self.limits.cpu_seconds} s of CPU time")
            if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS) and (
                    peak >= self.limits.memory_bytes // 2):
                return _Gone("memory", f"was killed ({_signal_name(sig)}) after using "
                                       f"{peak / 2**20:.0f} MB of memory")
            return _Gone("crash", f"the Python process running your code ended abruptly "
                                  f"({_signal_name(sig)})")
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
        return _Gone("crash", f"the Python process running your code ended (exit code {code}); "
                              "was os._exit() called?")

    def kill(self) -> None:
        """Kill the child and all it started, reap, release pipes. Idempotent."""
        if not self.closed:
            self.killed_by_us = True
            self.closed = True
            self.proc.stop()


class _Cold:
    """A child in a fresh interpreter of its own, under bwrap when namespaces
    are up: slower to start than a fork of the template, and needing nothing
    of it (the fallback when no layer can stop a fork from leaving processes
    behind, and Limits.warm=False)."""

    def __init__(self, iso: isolation.Isolation, run_as: RunAs | None,
                 protected: tuple[str, ...], deadline: float):
        walled = iso.has("namespaces")
        self.top = tempfile.mkdtemp(prefix="lstm-sandbox-")
        self.ns_init: int | None = None  # pidfd of the PID namespace's init (namespaces layer)
        self.stopped = False
        try:
            staged = stage(self.top, run_as, walled, protected, sys.executable)
        except BaseException:
            shutil.rmtree(self.top, ignore_errors=True)
            raise
        self.reads = staged.reads
        self.work_inside = staged.inside(os.path.realpath(staged.workdir))
        to_child_r, self.wfd = os.pipe()
        self.rfd, from_child_w = os.pipe()
        info_r, info_w = os.pipe() if walled else (-1, -1)
        passed = (to_child_r, from_child_w) + ((info_w,) if walled else ())
        try:
            self.proc = launch(staged, iso.bwrap, [str(to_child_r), str(from_child_w)], passed,
                               info_w if walled else None)
        except BaseException as exc:
            for fd in (to_child_r, from_child_w, self.rfd, self.wfd, info_r, info_w):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(self.top, ignore_errors=True)
            if isinstance(exc, OSError):
                raise SandboxError("could not start the sandbox child", str(exc)) from exc
            raise
        for fd in passed:
            os.close(fd)
        if walled:
            try:
                self.ns_init = pidns.init_pidfd(info_r, deadline)
            except OSError as exc:
                detail = self.stderr_tail()
                self.stop()
                raise SandboxError(f"the sandbox child did not start ({exc})", detail) from None

    def stderr_tail(self) -> str:
        if self.proc.returncode is None:  # not proc.poll(): only wait4 may reap
            self._killpg()
            self._reap()
        try:
            return self.proc.stderr.read()[-4000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def ended(self, wait_first: float) -> tuple[int | None, int, bool]:
        status, usage, killed = self._reap(wait_first)
        if status is not None and self.ns_init is not None and os.WIFEXITED(status) \
                and os.WEXITSTATUS(status) > 128:
            # bwrap's way of saying "killed by a signal": a status that says so
            status = os.WEXITSTATUS(status) - 128
        return status, (usage.ru_maxrss * 1024 if usage else 0), killed

    def _reap(self, wait_first: float = 0.0):
        if self.proc.returncode is not None:
            return None, None, False
        end = time.monotonic() + wait_first
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid or time.monotonic() >= end:
                break
            time.sleep(0.005)
        killed = not pid
        if killed:  # closed its pipe but lives on: it is of no further use
            self._killpg()
            pid, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return status, usage, killed

    def _killpg(self) -> None:
        pidns.kill_group(self.proc.pid)

    def stop(self) -> None:
        if self.proc.returncode is None:
            self._killpg()
            try:
                self._reap()
            except ChildProcessError:
                self.proc.returncode = -signal.SIGKILL
        if self.ns_init is not None:
            pidns.end(self.ns_init)
            self.ns_init = None
        if not self.stopped:
            self.stopped = True
            for fd in (self.rfd, self.wfd):
                os.close(fd)
            if self.proc.stderr and not self.proc.stderr.closed:
                self.proc.stderr.close()
            shutil.rmtree(self.top, ignore_errors=True)


def _shutdown(holder: list) -> None:
    if holder and holder[0] is not None:
        holder[0].kill()
        holder[0] = None

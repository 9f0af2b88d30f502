"""One sandbox child process: how it is started, as whom, and how it is read and killed.

Every read from the child has a deadline; a child that misses one, dies, or
sends anything but a well-formed frame is gone (``_Gone``) and is killed with
its whole process group. The Sandbox (runner.py) decides what to do next.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import isolation, wire
from .exprtree import MAX_DEPTH, MAX_NODES
from .mplcache import matplotlib_config_dir

if TYPE_CHECKING:  # runner imports this module; the annotation alone needs Limits
    from .runner import Limits

CHILD_SCRIPT = Path(__file__).with_name("child.py")
# Modules child.py loads by path from its own folder; staged next to every copy of it.
CHILD_HELPERS = (Path(__file__).with_name("statements.py"), Path(__file__).with_name("confine.py"))
BLOCKED_IMPORTS = ("grader", "reference")


@dataclass(frozen=True)
class RunAs:
    """An unprivileged identity for the child (needs a root parent). The
    grader's files stay readable only by the grader; the child gets a copy of
    child.py it can read and a working directory it owns, nothing else."""
    uid: int
    gid: int

    def __post_init__(self):
        if self.uid == 0 or self.gid == 0:
            raise ValueError("the sandbox child must not run as root (uid or gid 0)")


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


class _Child:
    """One child process and its two pipes. Every read has a deadline."""

    def __init__(self, limits: Limits, protected: tuple[str, ...], deadline: float):
        self.limits = limits
        self.killed_by_us = False
        self.ns_init: int | None = None  # pidfd of the PID namespace's init (namespaces layer)
        self.iso = isolation.probe(sys.executable, limits.run_as).only(limits.layers)
        if not self.iso.walled and not limits.unsafe_no_isolation:
            raise SandboxError(
                "refusing to run student code: no isolation layer the kernel enforces "
                "(namespaces, landlock, seccomp) is available here", self.iso.summary() +
                "; pass unsafe_no_isolation=True (--unsafe-no-isolation) to grade anyway, "
                "with only the audit hook and rlimits between student code and this machine")
        walled = self.iso.has("namespaces")
        self.top = tempfile.mkdtemp(prefix="lstm-sandbox-")
        try:
            self.workdir, files, identity = _stage(self.top, limits.run_as, copy=walled)
            inside = (lambda path: path.replace(self.workdir, isolation.SANDBOX_WORK, 1)) \
                if walled else (lambda path: path)
            work_inside = inside(os.path.realpath(self.workdir))
            env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": work_inside,
                   "TMPDIR": work_inside, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
            mpl_dir = matplotlib_config_dir()
            if mpl_dir:
                mpl_dir = _own_copy(mpl_dir, self.workdir, limits.run_as)
                env["MPLCONFIGDIR"] = inside(os.path.realpath(mpl_dir))
            reads = isolation.readable_paths(sys.executable, protected,
                                             (mpl_dir,) if mpl_dir else ())
        except BaseException:
            shutil.rmtree(self.top, ignore_errors=True)
            raise
        to_child_r, self.wfd = os.pipe()
        self.rfd, from_child_w = os.pipe()
        info_r, info_w = os.pipe() if walled else (-1, -1)
        if walled:
            script = f"{isolation.SANDBOX_DIR}/child.py"
            prefix = isolation.bwrap_command(self.iso.bwrap, read=reads, files=files,
                                             workdir=os.path.realpath(self.workdir),
                                             info_fd=info_w)
        else:
            script, prefix = files["child.py"], []
        passed = (to_child_r, from_child_w) + ((info_w,) if walled else ())
        try:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-I", script, str(to_child_r), str(from_child_w)],
                pass_fds=passed, start_new_session=True, cwd=self.workdir,
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, **identity)
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
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)
        self._pollers: dict[int, select.poll] = {}
        self.closed = False
        landlock = None
        if self.iso.has("landlock"):
            landlock = [[*isolation.SYSTEM, *reads, *isolation.DEVICES], [work_inside, "/dev/null"]]
        config = {
            "fds": [to_child_r, from_child_w], "workdir": work_inside,
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
            if walled:
                self.ns_init = _namespace_init(info_r, deadline)
            self.send(config, deadline)
            hello = self.recv(deadline)
            if "hello" not in hello:
                raise _Gone("crash", f"unexpected first frame {sorted(hello)}")
        except _Gone as gone:
            stderr = self._stderr_tail()
            self.kill()
            raise SandboxError(f"the sandbox child did not start ({gone.message})",
                               stderr) from None
        self.proc.stderr.close()

    def _stderr_tail(self) -> str:
        if self.proc.returncode is None:  # not proc.poll(): only wait4 may reap
            self.killed_by_us = True
            self._killpg()
            self._reap()
        try:
            return self.proc.stderr.read()[-4000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

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
        """Reap a child that closed its end and say how it ended."""
        status, usage = self._reap(wait_first=1.0)
        if self.killed_by_us:
            return _Gone("crash", "the process running your code was stopped")
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        if self.ns_init is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) > 128:
            sig = os.WEXITSTATUS(status) - 128  # bwrap's way of saying "killed by a signal"
        if sig:
            peak = usage.ru_maxrss * 1024 if usage else 0
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

    def _reap(self, wait_first: float = 0.0):
        if self.proc.returncode is not None:
            return 0, None
        end = time.monotonic() + wait_first
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid or time.monotonic() >= end:
                break
            time.sleep(0.005)
        if not pid:  # closed its pipe but lives on: it is of no further use
            self.killed_by_us = True
            self._killpg()
            pid, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return status, usage

    def _killpg(self) -> None:
        # The child leads its own session, so it cannot leave its group; the
        # plain kill is for a child that died between the two calls' checks.
        for kill in (os.killpg, os.kill):
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """Kill the whole process group, reap, release pipes and workdir. Idempotent."""
        if self.proc.returncode is None:
            self.killed_by_us = True
            self._killpg()
            try:
                self._reap()
            except ChildProcessError:
                self.proc.returncode = -signal.SIGKILL
        if self.ns_init is not None:
            _end_namespace(self.ns_init)
            self.ns_init = None
        if not self.closed:
            self.closed = True
            for fd in (self.rfd, self.wfd):
                os.close(fd)
            if self.proc.stderr and not self.proc.stderr.closed:
                self.proc.stderr.close()
            shutil.rmtree(self.top, ignore_errors=True)


def _stage(top: str, run_as: RunAs | None, copy: bool = False) -> tuple[str, dict, dict]:
    """(working directory, {name: child script and helpers}, Popen identity
    arguments) inside ``top``.

    Running as the grader's own user outside namespaces, the working directory
    is ``top`` and the scripts are used where they lie. Running as another
    user, CHILD_SCRIPT may sit in a folder that user cannot read, so a copy
    goes into ``top`` (root-owned, enterable but not writable by the child, so
    the child cannot swap the copy a restarted child will run) next to
    ``work/``, the only folder it owns. Under namespaces the same layout is
    used (``copy``), and bwrap binds the copies and ``work/`` alone.
    """
    sources = [CHILD_SCRIPT, *CHILD_HELPERS]
    if run_as is None and not copy:
        return top, {path.name: str(path) for path in sources}, {}
    os.chmod(top, 0o711)
    staged = {}
    for source in sources:
        # CHILD_SCRIPT is always staged as child.py, the name bwrap binds.
        name = "child.py" if source == CHILD_SCRIPT else source.name
        target = os.path.join(top, name)
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)
        staged[name] = target
    work = os.path.join(top, "work")
    os.mkdir(work, 0o700)
    if run_as is None:
        return work, staged, {}
    os.chown(work, run_as.uid, run_as.gid)
    return work, staged, {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def _namespace_init(info_fd: int, deadline: float) -> int:
    """A pidfd on the PID namespace's init, from bwrap's --info-fd JSON."""
    data = b""
    try:
        os.set_blocking(info_fd, False)
        poller = select.poll()
        poller.register(info_fd, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Gone("timeout", "bwrap did not report its namespace")
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
        raise _Gone("crash", f"bwrap did not start its namespace ({exc})") from None


def _end_namespace(pidfd: int) -> None:
    """SIGKILL the namespace's init and wait until it is gone: the kernel kills
    every other process of the namespace before init's exit completes, so no
    process of the submission outlives this call."""
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


def _own_copy(folder: str, workdir: str, run_as: RunAs | None) -> str:
    """``folder`` itself, or for a child running as another user a copy it owns:
    matplotlib ignores a config folder it cannot write and rebuilds its font
    cache elsewhere, which starts a thread the child may not have."""
    if run_as is None:
        return folder
    copy = os.path.join(workdir, ".matplotlib")
    shutil.copytree(folder, copy)
    for path in [copy] + [os.path.join(copy, name) for name in os.listdir(copy)]:
        os.chown(path, run_as.uid, run_as.gid)
    return copy


def _shutdown(holder: list) -> None:
    if holder and holder[0] is not None:
        holder[0].kill()
        holder[0] = None

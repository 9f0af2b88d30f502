"""Warm children: one template process per isolation set-up, forking a fresh
child for every submission in milliseconds.

The template (child/template.py) is started like a cold child (under bwrap
when namespaces are up, as the sandbox's user), imports numpy and SymPy once
and never runs student code. For each submission the grader makes two pipes,
hands the child's ends to the template over a Unix socket, and the template
forks; the child raises its own limits and walls, exactly as a cold child
does, and from then on speaks with the grader directly over the pipes.

Every submission still gets its own process tree, killed as a whole: a
forked child cannot fork (seccomp, RLIMIT_NPROC under another uid), and in a
PID namespace the template also ends whatever a child left behind before it
reports the child's end. Forking is used only where one of those holds
(``can_fork``); elsewhere children start cold.

Templates live as long as the grader process (``shutdown`` ends them; so
does the grader's exit, and a forked copy of the grader never touches its
parent's). A template that dies or stops answering is replaced, and the
child it was serving is reported as crashed.
"""
from __future__ import annotations

import atexit
import glob
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from . import isolation, pidns
from .staging import RunAs, child_folder, launch, remove_folder, stage

# How long the template may take to answer a kill or report an end before it
# is given up for dead (and killed with everything in it).
ANSWER_SECONDS = 5.0
# How long a template may take to start (its imports), on a slow, busy machine.
START_SECONDS = 120.0
PREFIX = "lstm-template-"
# Templates kept per grader process: one per set-up (isolation layers, user,
# protected folders), and a grader uses one or two.
KEEP = 2
_MESSAGE = 1 << 16
_templates: dict[tuple, "Template"] = {}


class TemplateError(OSError):
    """The template cannot be used (it died, stopped answering or never started)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message, self.detail = message, detail


def can_fork(iso: isolation.Isolation) -> bool:
    """Whether forked children's processes can all be ended: seccomp stops
    them from forking, or the template sweeps its own PID namespace."""
    return iso.has("namespaces") or iso.has("seccomp")


def _template(iso: isolation.Isolation, run_as: RunAs | None,
              protected: tuple[str, ...]) -> "Template":
    from .process import SandboxError

    key = (sys.executable, iso.layers, iso.bwrap, run_as, tuple(protected))
    template = _templates.pop(key, None)
    if template is None or template.broken:
        if template is not None:
            template.close()
        idle = [k for k, t in _templates.items() if not t.live]  # least recently used first
        for old in idle[:max(0, len(_templates) - KEEP + 1)]:  # a template serving a child stays
            _templates.pop(old).close()
        try:
            template = Template(iso, run_as, tuple(protected))
        except TemplateError as exc:
            raise SandboxError("could not start the sandbox child", exc.message) from None
    _templates[key] = template  # last: the most recently used
    return template


def start(iso: isolation.Isolation, run_as: RunAs | None, protected: tuple[str, ...]) -> None:
    """Start the template for this set-up without waiting for its imports, so
    that they overlap the grader's own start-up. A failure here is left for
    ``prepare`` or ``spawn`` to report."""
    from .process import SandboxError

    try:
        _template(iso, run_as, protected)
    except SandboxError:
        pass


def prepare(iso: isolation.Isolation, run_as: RunAs | None, protected: tuple[str, ...],
            seconds: float | None = None) -> None:
    """Start the template for this set-up and wait until it is ready: its
    imports are the grader's cost, paid once, not any submission's."""
    from .process import SandboxError

    template = _template(iso, run_as, protected)
    try:
        template.ready(time.monotonic() + (START_SECONDS if seconds is None else seconds))
    except TemplateError as exc:
        template.close()
        raise SandboxError(f"the sandbox template did not start ({exc.message})",
                           exc.detail) from None


def spawn(iso: isolation.Isolation, run_as: RunAs | None, protected: tuple[str, ...],
          deadline: float) -> "Forked":
    """A fresh child forked by the template for this set-up (started on first
    use; replaced, once, if it turns out to be dead)."""
    from .process import SandboxError

    for attempt in (1, 2):
        template = _template(iso, run_as, protected)
        try:
            return template.spawn(deadline)
        except TemplateError as exc:
            template.close()
            if attempt == 2 or not template.was_ready:
                raise SandboxError(f"the sandbox template did not start ({exc.message})",
                                   exc.detail) from None
    raise AssertionError("unreachable")


def shutdown() -> None:
    """End every template of this process and everything they started."""
    while _templates:
        _templates.popitem()[1].close()


def _forget_after_fork() -> None:
    # A forked copy of the grader (a SymPy worker) must neither use nor end
    # its parent's templates: drop them without a word to them.
    for template in _templates.values():
        template.disown()
    _templates.clear()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_after_fork)


def _remove_stale() -> None:
    """Remove the folders of templates whose grader died without ending them
    (SIGKILLed, say): the kernel ended the templates themselves
    (PR_SET_PDEATHSIG, bwrap's --die-with-parent), but not their folders."""
    for top in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            with open(os.path.join(top, "owner"), encoding="ascii") as fh:
                owner = int(fh.read())
            if os.stat(top).st_uid != os.geteuid():
                continue
            os.kill(owner, 0)
        except ProcessLookupError:
            remove_folder(top)
        except (OSError, ValueError):
            continue


class Template:
    """The grader's side of one template process."""

    def __init__(self, iso: isolation.Isolation, run_as: RunAs | None,
                 protected: tuple[str, ...]):
        self.walled = iso.has("namespaces")
        self.broken = False
        self.was_ready = False
        self.count = 0
        self.exits: dict[int, dict] = {}
        self.live: set[str] = set()   # the folders of children not yet released
        self.ns_init: int | None = None
        self.owned = True
        _remove_stale()
        self.top = tempfile.mkdtemp(prefix=PREFIX)
        with open(os.path.join(self.top, "owner"), "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))
        try:
            self.staged = stage(self.top, run_as, self.walled, protected, sys.executable,
                                template=True)
        except BaseException:
            shutil.rmtree(self.top, ignore_errors=True)
            raise
        self.work_outside = os.path.realpath(self.staged.workdir)
        self.work_inside = self.staged.inside(self.work_outside)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.info_r, info_w = os.pipe() if self.walled else (-1, -1)
        passed = (theirs.fileno(),) + ((info_w,) if self.walled else ())
        try:
            self.proc = launch(self.staged, iso.bwrap, ["--template", str(theirs.fileno())],
                               passed, info_w if self.walled else None)
        except OSError as exc:
            self.broken = True
            self._release()
            raise TemplateError(str(exc)) from None
        finally:
            theirs.close()
            if info_w >= 0:
                os.close(info_w)
        self.run_as = run_as
        self.sock.send(json.dumps({"namespace": self.walled}).encode())

    # -- messages from the template ------------------------------------------

    def _recv(self, deadline: float) -> dict:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise TemplateError("it did not answer in time")
        try:
            data = self.sock.recv(_MESSAGE)
        except ConnectionResetError:  # it ended with a message of ours unread
            data = b""
        except OSError as exc:
            raise TemplateError(f"its socket failed ({exc})") from None
        if not data:
            raise TemplateError("it ended", self._stderr_tail())
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise TemplateError("it sent something that is not a message")
        if "exit" in message:
            if not all(type(message.get(k)) is int for k in ("exit", "status", "maxrss")):
                raise TemplateError("it sent a malformed report")
            self.exits[message["exit"]] = message
        return message

    def _await(self, wanted, deadline: float) -> dict:
        try:
            while True:
                message = self._recv(deadline)
                if "error" in message:
                    raise TemplateError(str(message["error"])[:300])
                if wanted(message):
                    return message
        except TemplateError:
            self.broken = True
            raise

    def _stderr_tail(self) -> str:
        """What a template that failed to start wrote (it is ended first)."""
        if self.was_ready:
            return ""  # its stderr went to /dev/null
        try:
            self.proc.wait(timeout=ANSWER_SECONDS)
        except subprocess.TimeoutExpired:
            self._kill_process()
        try:
            return self.proc.stderr.read()[-4000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _kill_process(self) -> None:
        pidns.kill_group(self.proc.pid)
        self.proc.wait()

    # -- children --------------------------------------------------------------

    def ready(self, deadline: float) -> None:
        """Wait for the template's imports (once)."""
        if self.broken:
            raise TemplateError("it is no longer usable")
        if self.was_ready:
            return
        if self.walled:
            try:
                self.ns_init = pidns.init_pidfd(self.info_r, deadline)
            except OSError as exc:
                self.broken = True
                raise TemplateError(str(exc), self._stderr_tail()) from None
            finally:
                self.info_r = -1
        self._await(lambda m: "ready" in m, deadline)
        self.was_ready = True
        self.proc.stderr.close()  # the template now writes to /dev/null

    def spawn(self, deadline: float) -> "Forked":
        self.ready(deadline)
        self.count += 1
        outside, mpl = child_folder(self.work_outside, f"s{self.count}", self.run_as)
        self.live.add(outside)
        inside = self.staged.inside(outside)
        env = {"HOME": inside, "TMPDIR": inside}
        if mpl:
            env["MPLCONFIGDIR"] = self.staged.inside(mpl)
        to_child_r, wfd = os.pipe()
        rfd, from_child_w = os.pipe()
        try:
            message = {"op": "spawn", "id": self.count, "cwd": inside, "env": env}
            socket.send_fds(self.sock, [json.dumps(message).encode()], [to_child_r, from_child_w])
        except OSError as exc:
            for fd in (rfd, wfd):
                os.close(fd)
            self.release(outside)
            self.broken = True
            raise TemplateError(f"its socket failed ({exc})") from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        count = self.count
        try:
            reply = self._await(lambda m: m.get("id") == count and "spawned" in m, deadline)
        except TemplateError:
            for fd in (rfd, wfd):
                os.close(fd)
            self.release(outside)
            raise
        pid = reply["spawned"]
        if type(pid) is not int:
            os.close(rfd), os.close(wfd)
            self.broken = True
            raise TemplateError("it sent a malformed reply")
        return Forked(self, pid, rfd, wfd, inside, self.staged.reads, outside)

    def kill(self, pid: int) -> None:
        if not self.broken:
            try:
                self.sock.send(json.dumps({"op": "kill", "pid": pid}).encode())
            except OSError:
                self.broken = True

    def wait_exit(self, pid: int, deadline: float) -> dict | None:
        """The template's report on child ``pid`` once it has ended (None if it
        is still running at ``deadline``, or the template is broken)."""
        try:
            while pid not in self.exits and not self.broken:
                try:
                    self._recv(deadline)
                except TemplateError as exc:
                    if exc.message != "it did not answer in time":
                        self.broken = True
                    return None
        finally:
            if self.broken:
                self.close()
        return self.exits.pop(pid, None)

    def release(self, folder: str) -> None:
        """Remove an ended child's folder, and anything else in ``work/`` that
        is no live child's own (where the kernel lets a child write there: a
        child that is the owner of ``work/`` itself, as root without a uid)."""
        self.live.discard(folder)
        remove_folder(folder)
        try:
            names = os.listdir(self.work_outside)
        except OSError:
            return
        for name in names:
            path = os.path.join(self.work_outside, name)
            if path not in self.live:
                if os.path.isdir(path) and not os.path.islink(path):
                    remove_folder(path)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    # -- the end -----------------------------------------------------------------

    def disown(self) -> None:
        """Forget this template without ending it (in a forked copy of the grader)."""
        self.owned = False
        self.broken = True
        for fd in (self.sock.fileno(), self.info_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.detach()

    def close(self) -> None:
        """End the template and every child of it. Idempotent."""
        self.broken = True
        if not self.owned:
            return
        self.owned = False
        try:
            self.sock.close()  # the template kills its children and exits on EOF
        except OSError:
            pass
        if self.ns_init is not None:
            pidns.end(self.ns_init)
            self.ns_init = None
        proc = getattr(self, "proc", None)
        if proc is not None:
            try:
                proc.wait(timeout=ANSWER_SECONDS)
            except subprocess.TimeoutExpired:
                self._kill_process()
            if proc.stderr and not proc.stderr.closed:
                proc.stderr.close()
        self._release()

    def _release(self) -> None:
        if self.info_r >= 0:
            os.close(self.info_r)
            self.info_r = -1
        shutil.rmtree(self.top, ignore_errors=True)


@dataclass
class Forked:
    """A child forked by a template (process.Launched)."""
    template: Template
    pid: int
    rfd: int
    wfd: int
    work_inside: str
    reads: tuple[str, ...]
    folder: str              # its working folder, outside: removed once it has ended
    done: bool = False
    closed: bool = False

    def ended(self, wait_first: float) -> tuple[int | None, int, bool]:
        report = self.template.wait_exit(self.pid, time.monotonic() + wait_first)
        killed = False
        if report is None and not self.template.broken:
            killed = True  # closed its pipe but lives on: it is of no further use
            self.template.kill(self.pid)
            report = self.template.wait_exit(self.pid, time.monotonic() + ANSWER_SECONDS)
        self.done = True
        if report is None:
            return None, 0, killed
        return report["status"], report["maxrss"], killed

    def stop(self) -> None:
        if not self.done:
            self.done = True
            self.template.kill(self.pid)
            if self.template.wait_exit(self.pid, time.monotonic() + ANSWER_SECONDS) is None:
                self.template.close()  # it did not end its child: end everything
        if not self.closed:
            self.closed = True
            os.close(self.rfd)
            os.close(self.wfd)
            self.template.release(self.folder)

    def stderr_tail(self) -> str:
        return ""

"""The warm template: imports numpy and SymPy once, then forks one fresh
child per submission on the grader's request.

The grader talks to the template over a Unix socket (one JSON message per
datagram). ``spawn`` arrives with the two pipe ends of a new child attached
(SCM_RIGHTS) and the folder the grader made for it; the template forks, and
the child closes everything of the template's before it reads its first
frame, then runs main.serve exactly as a cold child would (its limits and
walls are raised after the fork, per submission). ``kill`` ends a child.
When a child ends, the template reaps it, ends any process it left behind
(in the sandbox's own PID namespace), empties the private /tmp, and reports
how it ended and its peak memory; the grader then removes its folder.

No state passes from one submission to the next: each child is a fork of a
template that never runs student code, its files go with it, and the
template is not dumpable, so no child can read or trace it. Loaded by path
by main.py.
"""
import gc
import json
import os
import select
import shutil
import signal
import socket
import sys
import time

import _sandbox_codec as codec  # registered by main.py before this module loads
import _sandbox_confine as confine

_MESSAGE = 1 << 16


def _send(sock, payload):
    sock.send(json.dumps(payload).encode("ascii"))


def _warm():
    """What every child would otherwise import (and SymPy build) for itself."""
    import inspect  # noqa: F401 - session.functions
    import tempfile
    tempfile.gettempdir()  # cached from the template's TMPDIR: each child resets it (become_child)
    import numpy as np
    with np.errstate(over="warn"):
        np.exp(np.ones(2))
    kit = codec.sympy_kit()
    import sympy as sp
    a = sp.Symbol("a", real=True)
    # The expressions students return are built from these: their first use
    # fills SymPy's caches and assumption tables, once, here.
    expr = sp.exp(-a) / (1 + sp.exp(-a)) * sp.tanh(a) ** 2 - sp.log(1 + a) + sp.Rational(1, 2) * a
    codec.Encoder({"value_bytes": 1 << 20, "nesting": 8, "expr_nodes": 1000, "expr_depth": 50},
                  lambda: kit).encode(expr)
    confine.libseccomp()
    # Objects that exist now are never collected in a child: without this, a
    # child's first full collection would touch (and copy) every page of them.
    gc.freeze()


def _remove(path):
    def unlock(func, failed, _exc):  # a child may have made its files read-only
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            os.chmod(failed, 0o700)
            func(failed)
        except OSError:
            pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=unlock)
    else:
        shutil.rmtree(path, onerror=lambda f, p, e: unlock(f, p, e))


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _sweep(keep):
    """SIGKILL every process of the namespace but ``keep``, and wait (briefly)
    until each is dead: the next submission must not meet any of them."""
    ended = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            try:
                os.kill(int(name), signal.SIGKILL)
                ended.append(int(name))
            except OSError:
                pass
    end = time.monotonic() + 2.0
    while any(_running(pid) for pid in ended) and time.monotonic() < end:
        time.sleep(0.002)
    return len(ended)


def _empty(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _remove(path)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


class Template:
    def __init__(self, sock, cfg, run_child):
        self.sock, self.cfg, self.run_child = sock, cfg, run_child
        self.live = {}   # pidfd -> pid
        self.poller = select.poll()
        self.poller.register(sock.fileno(), select.POLLIN)

    def loop(self):
        while True:
            for fd, _event in self.poller.poll():
                if fd == self.sock.fileno():
                    if not self.request():
                        return
                elif fd in self.live:
                    self.reap(fd)

    def request(self):
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, _MESSAGE, 2)
        except OSError:
            return False
        if not data:
            return False
        msg = json.loads(data)
        if msg["op"] == "spawn" and len(fds) == 2:
            self.spawn(msg, fds)
        elif msg["op"] == "kill":
            if msg["pid"] in self.live.values():
                os.kill(msg["pid"], signal.SIGKILL)
        else:
            for fd in fds:
                os.close(fd)
        return True

    def spawn(self, msg, fds):
        pid = os.fork()
        if pid == 0:
            self.become_child(msg["cwd"], msg["env"], fds)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.live[pidfd] = pid
        self.poller.register(pidfd, select.POLLIN)
        _send(self.sock, {"spawned": pid, "id": msg["id"]})

    def become_child(self, folder, env, fds):
        code = 70
        try:
            keep = {0, 1, 2, *fds}
            for name in os.listdir("/proc/self/fd"):
                if int(name) not in keep:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            os.setsid()  # its own session and process group, like a cold child
            confine.die_with_parent(signal.SIGKILL)
            os.chdir(folder)
            os.environ.update(env)
            tempfile = sys.modules.get("tempfile")
            if tempfile is not None:  # it caches TMPDIR once read: the template's, not this child's
                tempfile.tempdir = None
            confine.set_dumpable(True)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.run_child(*fds)
        except BaseException:  # noqa: B036 - never return into the template's loop
            pass
        finally:
            os._exit(code)

    def reap(self, pidfd):
        pid = self.live.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        strays = 0
        if self.cfg.get("namespace"):
            strays = _sweep({1, os.getpid(), *self.live.values()})
            if not self.live:
                _empty("/tmp")
                _empty("/dev/shm")
        _send(self.sock, {"exit": pid, "status": status, "maxrss": usage.ru_maxrss * 1024,
                          "strays": strays})

    def close(self):
        for pid in self.live.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def serve(fd, run_child):
    """Run the template on socket ``fd``; ``run_child(rfd, wfd)`` never returns."""
    sock = socket.socket(fileno=fd)
    confine.set_dumpable(False)
    confine.die_with_parent(signal.SIGKILL)
    cfg = json.loads(sock.recv(_MESSAGE))
    _warm()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # fork copies one thread: a pool's locks would be held forever
        _send(sock, {"error": f"the template has {threads} threads after its imports"})
        return
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    os.close(null)
    _send(sock, {"ready": os.getpid()})
    template = Template(sock, cfg, run_child)
    try:
        template.loop()
    finally:
        template.close()

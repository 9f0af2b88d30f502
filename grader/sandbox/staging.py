"""Where a sandbox process lives on disk, and as whom it runs.

Both launchers, a cold child (process.py) and the warm template (zygote.py),
get the same layout: a root-owned folder holding copies of the child's
modules and ``work/``, the only folder the sandbox's user owns, plus the
environment and the read-only paths it is given.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import isolation
from .mplcache import matplotlib_config_dir

CHILD_DIR = Path(__file__).with_name("child")
# The entry point, staged as child.py next to its sibling modules.
CHILD_SCRIPT = CHILD_DIR / "main.py"
CHILD_MODULES = tuple(sorted(p for p in CHILD_DIR.glob("*.py")
                             if p.name not in ("main.py", "__init__.py")))
BLOCKED_IMPORTS = ("grader", "reference")
THREAD_LIMITS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class RunAs:
    """An unprivileged identity for the child (needs a root parent). The
    grader's files stay readable only by the grader; the child gets a copy of
    its modules it can read and a working directory it owns, nothing else."""
    uid: int
    gid: int

    def __post_init__(self):
        if self.uid == 0 or self.gid == 0:
            raise ValueError("the sandbox child must not run as root (uid or gid 0)")


@dataclass(frozen=True)
class Staged:
    """A staged sandbox: ``top`` (removed by the owner), ``workdir`` (outside
    path), the scripts to bind or run, how to start the process, its
    environment and what it may read."""
    top: str
    workdir: str
    files: dict
    identity: dict
    walled: bool            # under namespaces: paths inside differ from outside
    env: dict
    reads: tuple[str, ...]

    def inside(self, path: str) -> str:
        if not self.walled:
            return path
        return path.replace(os.path.realpath(self.workdir), isolation.SANDBOX_WORK, 1)

    @property
    def script(self) -> str:
        return f"{isolation.SANDBOX_DIR}/child.py" if self.walled else self.files["child.py"]


def stage(top: str, run_as: RunAs | None, walled: bool, protected: tuple[str, ...],
          executable: str, template: bool = False) -> Staged:
    """Lay out ``top`` (an empty folder the caller made and will remove).

    Running as the grader's own user outside namespaces, a cold child's
    working directory is ``top`` and the modules are used where they lie.
    Otherwise copies of the modules go into ``top`` (root-owned, enterable but
    not writable by the child, so the child cannot swap the copy a restarted
    child will run) next to ``work/``; under namespaces bwrap binds the copies
    and ``work/`` alone. A cold child owns ``work/``. For the warm template
    (``template``) ``work/`` stays the grader's (mode 0711): the grader makes
    each forked child's own folder in it (``child_folder``) and removes it
    when the child has ended, so no child can leave anything for the next.
    """
    sources = [CHILD_SCRIPT, *CHILD_MODULES]
    if run_as is None and not walled and not template:
        workdir, files, identity = top, {path.name: str(path) for path in sources}, {}
        files["child.py"] = str(CHILD_SCRIPT)
    else:
        os.chmod(top, 0o711)
        files = {}
        for source in sources:
            name = "child.py" if source == CHILD_SCRIPT else source.name
            target = os.path.join(top, name)
            shutil.copyfile(source, target)
            os.chmod(target, 0o644)
            files[name] = target
        workdir = os.path.join(top, "work")
        os.mkdir(workdir, 0o711 if template else 0o700)
        identity = {}
        if run_as is not None:
            if not template:
                os.chown(workdir, run_as.uid, run_as.gid)
            identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
    extra = None
    if not template and matplotlib_config_dir():
        extra = _own_copy(matplotlib_config_dir(), workdir, run_as)
    reads = isolation.readable_paths(executable, protected, (extra,) if extra else ())
    partial = Staged(top, workdir, files, identity, walled, {}, reads)
    work_inside = partial.inside(os.path.realpath(workdir))
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": work_inside,
           "TMPDIR": work_inside, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", **THREAD_LIMITS}
    if extra:
        env["MPLCONFIGDIR"] = partial.inside(os.path.realpath(extra))
    return Staged(top, workdir, files, identity, walled, env, reads)


def launch(staged: Staged, bwrap: str, args: list[str], pass_fds: tuple[int, ...],
           info_fd: int | None = None) -> subprocess.Popen:
    """Start the staged child.py with ``args``: under bwrap when ``staged`` is
    walled (reporting the namespace on ``info_fd``), as its user, in a session
    of its own, with stdout gone and stderr kept for its start-up errors."""
    prefix = isolation.bwrap_command(bwrap, read=staged.reads, files=staged.files,
                                     workdir=os.path.realpath(staged.workdir),
                                     info_fd=info_fd) if staged.walled else []
    return subprocess.Popen(
        [*prefix, sys.executable, "-I", staged.script, *args], pass_fds=pass_fds,
        start_new_session=True, cwd=staged.workdir, env=staged.env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **staged.identity)


def child_folder(workdir: str, name: str, run_as: RunAs | None) -> tuple[str, str | None]:
    """A fresh folder ``name`` in the template's ``workdir`` for one forked
    child, owned by it, with its own copy of the matplotlib font cache.
    Returns (the folder, its MPLCONFIGDIR or None)."""
    folder = os.path.join(workdir, name)
    os.mkdir(folder, 0o700)
    mpl = None
    source = matplotlib_config_dir()
    if source:
        mpl = os.path.join(folder, ".matplotlib")
        shutil.copytree(source, mpl)
    if run_as is not None:
        for root, dirs, names in os.walk(folder):
            for path in [root, *(os.path.join(root, n) for n in dirs + names)]:
                os.chown(path, run_as.uid, run_as.gid)
    return folder, mpl


def remove_folder(folder: str) -> None:
    """Remove a child's folder, whatever modes it left on its files."""
    def unlock(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=unlock)
    else:
        shutil.rmtree(folder, onerror=unlock)


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

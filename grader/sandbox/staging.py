"""Where a sandbox process lives on disk, and as whom it runs.

Both launchers, a cold child (process.py) and the warm template (zygote.py),
get the same layout: a root-owned folder holding copies of the child's
modules and ``work/``, the only folder the sandbox's user owns, plus the
environment and the read-only paths it is given.
"""
from __future__ import annotations

import os
import shutil
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
    environment, what it may read, and the inside view of paths."""
    top: str
    workdir: str
    files: dict
    identity: dict
    walled: bool            # under namespaces: paths inside differ from outside
    env: dict
    reads: tuple[str, ...]
    mpl: str | None         # a pristine matplotlib config folder (inside path), or None

    def inside(self, path: str) -> str:
        if not self.walled:
            return path
        return path.replace(os.path.realpath(self.workdir), isolation.SANDBOX_WORK, 1)

    @property
    def script(self) -> str:
        return f"{isolation.SANDBOX_DIR}/child.py" if self.walled else self.files["child.py"]


def stage(top: str, run_as: RunAs | None, walled: bool, protected: tuple[str, ...],
          executable: str, mpl_private: bool) -> Staged:
    """Lay out ``top`` (an empty folder the caller made and will remove).

    Running as the grader's own user outside namespaces, the working directory
    is ``top`` and the modules are used where they lie. Running as another
    user, the modules may sit in a folder that user cannot read, so copies go
    into ``top`` (root-owned, enterable but not writable by the child, so the
    child cannot swap the copy a restarted child will run) next to ``work/``,
    the only folder it owns. Under namespaces the same layout is used and
    bwrap binds the copies and ``work/`` alone.

    ``mpl_private``: the matplotlib folder is copied into ``top`` as a
    pristine source, readable by the sandbox's user and owned by the grader
    (the warm template copies it into each child's folder); otherwise a cold
    child's own copy goes into its working folder.
    """
    sources = [CHILD_SCRIPT, *CHILD_MODULES]
    if run_as is None and not walled:
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
        os.mkdir(workdir, 0o700)
        identity = {}
        if run_as is not None:
            os.chown(workdir, run_as.uid, run_as.gid)
            identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
    source = matplotlib_config_dir()
    mpl_inside = extra = None
    if source and mpl_private:
        # The template's pristine copy: read-only for the sandbox's user, and
        # under namespaces bound as /sandbox/mpl.
        pristine = os.path.join(top, "mpl")
        shutil.copytree(source, pristine)
        for root, _dirs, names in os.walk(pristine):
            os.chmod(root, 0o755)
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)
        if walled:
            files["mpl"] = pristine
            mpl_inside = f"{isolation.SANDBOX_DIR}/mpl"
        else:
            mpl_inside = pristine
    elif source:
        extra = _own_copy(source, workdir, run_as)
    reads = isolation.readable_paths(executable, protected, (extra,) if extra else ())
    partial = Staged(top, workdir, files, identity, walled, {}, reads, None)
    work_inside = partial.inside(os.path.realpath(workdir))
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": work_inside,
           "TMPDIR": work_inside, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", **THREAD_LIMITS}
    if extra:
        env["MPLCONFIGDIR"] = partial.inside(os.path.realpath(extra))
    return Staged(top, workdir, files, identity, walled, env, reads, mpl_inside)


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

"""Gradescope without Gradescope: the built zip unpacked into a temporary folder
standing in for /autograder, run_autograder run on it as Gradescope would.

Gradescope's setup.sh is not run here (it needs apt, pip and the network; only
test_trying_it_by_hand.py runs it, offline); what it leaves behind is stood in
for: an interpreter the sandbox user can execute (the project's venv lives under
/root, which other users cannot enter) and a throwaway sandbox user, created
here and deleted afterwards.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from grader.gradescope import build
from grader.gradescope.privileges import processes_of, reap

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "results.schema.json").read_text(encoding="utf-8"))
IS_ROOT = os.geteuid() == 0


def schema_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def _world_dir(prefix: str) -> Path:
    """A folder under /tmp every user can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def as_user(user: str | None, argv: list[str]) -> list[str]:
    """``argv`` to run as ``user`` (needs root), or as this user when ``user`` is None."""
    if user is None:
        return list(argv)
    return ["setpriv", "--reuid", user, "--regid", user, "--clear-groups", *argv]


def linked_venv(python: str, dest: Path) -> Path:
    """A venv at ``dest`` of ``python``'s base interpreter, seeing this process's
    packages through a .pth (binary wheels are per minor version, so ``python``
    must be of this one). Returns its interpreter."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    venv_python = dest / "bin" / "python"
    site = subprocess.run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv_python


def _add_user() -> str:
    name = f"lstmgs-{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                    "/nonexistent", "--shell", "/usr/sbin/nologin", name], check=True)
    return name


@pytest.fixture(scope="session")
def sandbox_users():
    """Two throwaway unprivileged users (root only; [None] otherwise), removed
    with anything they left running. Two, because the reaper kills every
    process of its user, so runs in parallel must not share one."""
    if not IS_ROOT or shutil.which("useradd") is None:
        yield [None]
        return
    names: list[str] = []
    try:
        names += [_add_user(), _add_user()]
        yield names
    finally:
        for name in names:
            reap(pwd.getpwnam(name).pw_uid)
            subprocess.run(["userdel", name], check=False)


@pytest.fixture(scope="session")
def sandbox_user(sandbox_users):
    return sandbox_users[0]


@pytest.fixture(scope="session")
def sandbox_python(sandbox_user):
    """An interpreter the sandbox user can run, seeing this venv's packages.

    A venv of the system's own python of the same minor version, with a .pth
    pointing at our site-packages (binary wheels are per minor version). Falls
    back to sys.executable when no separation is possible anyway."""
    if sandbox_user is None:
        yield sys.executable
        return
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(f"/usr/bin/python{version}")
    if not base.exists():
        pytest.skip(f"no world-executable python{version} for the sandbox user")
    top = _world_dir("lstmgs-venv-")
    try:
        python = linked_venv(str(base), top / "venv")
        probe = subprocess.run(as_user(sandbox_user, [str(python), "-I", "-c", "import numpy, sympy"]),
                               capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"the sandbox user cannot run {python}: {probe.stderr[-300:]}")
        yield str(python)
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def zips(tmp_path_factory):
    """Built autograder zips, one per assignment, built once."""
    out = tmp_path_factory.mktemp("dist")
    built: dict[str, Path] = {}

    def get(assignment: str) -> Path:
        if assignment not in built:
            built[assignment] = build.build(assignment, out)
        return built[assignment]

    return get


@dataclass
class Run:
    doc: dict
    stdout: str
    returncode: int


@dataclass
class Container:
    """One unpacked /autograder."""

    root: Path
    env: dict

    @property
    def source(self) -> Path:
        return self.root / "source"

    def submit(self, name: str, data: bytes | Path) -> Path:
        path = self.root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.read_bytes() if isinstance(data, Path) else data)
        return path

    def run(self, timeout: float = 120, **env: str) -> Run:
        proc = subprocess.run(["bash", str(self.source / "run_autograder")], capture_output=True,
                              text=True, timeout=timeout, env={**self.env, **env}, cwd=self.root)
        doc = json.loads((self.root / "results" / "results.json").read_text(encoding="utf-8"))
        return Run(doc, proc.stdout + proc.stderr, proc.returncode)


class Containers:
    """Makes unpacked roots and removes them all at the end."""

    def __init__(self, zips, python: str):
        self.zips, self.python, self.made = zips, python, []
        self._sources: dict[str, Path] = {}
        # What setup.sh builds once per image, built once per session: shared
        # by every root instead of rebuilt in each.
        self.cache = _world_dir("lstmgs-cache-")
        self.made.append(self.cache)
        subprocess.run([python, "-c", "from grader.sandbox.mplcache import matplotlib_config_dir as m; m()"],
                       env={**os.environ, "LSTM_GRADER_CACHE": str(self.cache)}, cwd=HERE.parents[2],
                       check=True)

    def unpacked(self, assignment: str) -> Path:
        """The zip unpacked and byte-compiled once, as setup.sh does on the image."""
        if assignment not in self._sources:
            top = _world_dir("lstmgs-unpacked-")
            self.made.append(top)
            with zipfile.ZipFile(self.zips(assignment)) as zf:
                zf.extractall(top)
            subprocess.run([self.python, "-m", "compileall", "-q", str(top)], check=True,
                           stdout=subprocess.DEVNULL)
            self._sources[assignment] = top
        return self._sources[assignment]

    def make(self, assignment: str, user: str | None) -> Container:
        root = _world_dir("lstmgs-root-")
        self.made.append(root)
        shutil.copytree(self.unpacked(assignment), root / "source")
        (root / "submission").mkdir()
        (root / "results").mkdir()
        (root / "submission_metadata.json").write_text('{"previous_submissions": []}')
        env = {"PATH": os.environ.get("PATH", os.defpath), "AUTOGRADER_ROOT": str(root),
               "AUTOGRADER_PYTHON": self.python, "AUTOGRADER_SANDBOX_USER": user or "",
               "LSTM_GRADER_CACHE": str(self.cache)}
        return Container(root, env)


@pytest.fixture(scope="session")
def containers(zips, sandbox_python):
    made = Containers(zips, sandbox_python)
    yield made
    for root in made.made:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def container(containers, sandbox_user):
    return lambda assignment="lstm_scalar": containers.make(assignment, sandbox_user)


def leftovers(user: str | None) -> list[int]:
    """Live processes of the sandbox user (none, once run_autograder is done)."""
    if user is None:
        return []
    return processes_of(pwd.getpwnam(user).pw_uid)

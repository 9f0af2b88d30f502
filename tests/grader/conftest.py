"""Shared set-up of the grader tests: submissions built from the correct
example plus fixture cells, and throwaway unprivileged users with an
interpreter they can run (for the Gradescope stand-in, and for the grader run
as an ordinary user on the hostile corpus)."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from pathlib import Path

import pytest

from grader import load_assignment, load_submission
from grader.gradescope.privileges import processes_of, reap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="session")
def scalar():
    return load_assignment("lstm_scalar")


@pytest.fixture
def overlay(scalar, tmp_path):
    """A .py submission: the correct example's cells (minus those defining the
    functions in ``drop``), then ``extra`` sources as further cells."""

    def make(*extra: str, drop: tuple[str, ...] = (), name: str = "submission.py") -> Path:
        base = load_submission(scalar.root / "examples" / "correct.ipynb")
        cells = [c.source for c in base.cells
                 if not any(re.search(rf"^def {fn}\(", c.source, re.M) for fn in drop)]
        path = tmp_path / name
        path.write_text("".join(f"# %%\n{src}\n" for src in [*cells, *extra]), encoding="utf-8")
        return path

    return make


def fixture_text(name: str) -> str:
    return (FIXTURES / "submissions" / "lstm_scalar" / name).read_text(encoding="utf-8")


# -- throwaway unprivileged users ------------------------------------------------

def world_dir(prefix: str) -> Path:
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
    pointing at our site-packages (binary wheels are per minor version; the
    project's own venv may live where other users cannot enter, e.g. /root).
    Falls back to sys.executable when no separation is possible anyway."""
    if sandbox_user is None:
        yield sys.executable
        return
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(f"/usr/bin/python{version}")
    if not base.exists():
        pytest.skip(f"no world-executable python{version} for the sandbox user")
    top = world_dir("lstmgs-venv-")
    try:
        python = linked_venv(str(base), top / "venv")
        probe = subprocess.run(as_user(sandbox_user, [str(python), "-I", "-c", "import numpy, sympy"]),
                               capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"the sandbox user cannot run {python}: {probe.stderr[-300:]}")
        yield str(python)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def leftovers(user: str | None) -> list[int]:
    """Live processes of the sandbox user (none, once run_autograder is done)."""
    if user is None:
        return []
    return processes_of(pwd.getpwnam(user).pw_uid)


# -- the table of `make security` ------------------------------------------------

def pytest_terminal_summary(terminalreporter):
    """With LSTM_HOSTILE_FULL=1 (`make security`): one row per attack of the
    corpus, its score and verdict as graded by the CLI as an unprivileged user
    (tests/grader/test_hostile_batch.py) and in the Gradescope stand-in
    (tests/grader/gradescope/test_hostile_corpus.py)."""
    from .corpus import NOTES, ROWS, attacks

    if os.environ.get("LSTM_HOSTILE_FULL") != "1" or not ROWS:
        return
    every = attacks()
    runs = {"as user": "CLI batch as an unprivileged user", "stand-in": "Gradescope stand-in (run_autograder)"}
    known = {a.name for a in every}
    names = [(a.name, a.kind) for a in every] + [(n, "") for n in ROWS if n not in known]
    head = ("attack", "class", *runs.values())
    rows = [(name, kind, *(ROWS.get(name, {}).get(run, "    - not run") for run in runs)) for name, kind in names]
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows)]
    terminalreporter.section("hostile corpus graded outside the test process")
    for row in [head, *rows]:
        terminalreporter.write_line("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip())
    for note in NOTES:
        terminalreporter.write_line(note)
    verdicts = [cell for row in ROWS.values() for cell in row.values()]
    terminalreporter.write_line(f"{sum('BREACHED' not in v for v in verdicts)} runs held, "
                                f"{sum('BREACHED' in v for v in verdicts)} breached")

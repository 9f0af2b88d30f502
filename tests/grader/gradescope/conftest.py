"""Gradescope without Gradescope: the built zip unpacked into a temporary folder
standing in for /autograder, run_autograder run on it as Gradescope would.

Gradescope's setup.sh is not run here (it needs apt, pip and the network; only
test_trying_it_by_hand.py runs it, offline); what it leaves behind is stood in for: an interpreter the sandbox user can execute
and throwaway sandbox users (the fixtures sandbox_users, sandbox_user and
sandbox_python of tests/grader/conftest.py, shared with the tests that run the
grader itself as an unprivileged user).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from grader.gradescope import build

from ..conftest import IS_ROOT, as_user, leftovers, linked_venv, world_dir  # noqa: F401 - for the tests here

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "results.schema.json").read_text(encoding="utf-8"))


def schema_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


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
        self.cache = world_dir("lstmgs-cache-")
        self.made.append(self.cache)
        subprocess.run([python, "-c", "from grader.sandbox.mplcache import matplotlib_config_dir as m; m()"],
                       env={**os.environ, "LSTM_GRADER_CACHE": str(self.cache)}, cwd=HERE.parents[2],
                       check=True)

    def unpacked(self, assignment: str) -> Path:
        """The zip unpacked and byte-compiled once, as setup.sh does on the image."""
        if assignment not in self._sources:
            top = world_dir("lstmgs-unpacked-")
            self.made.append(top)
            with zipfile.ZipFile(self.zips(assignment)) as zf:
                zf.extractall(top)
            subprocess.run([self.python, "-m", "compileall", "-q", str(top)], check=True,
                           stdout=subprocess.DEVNULL)
            self._sources[assignment] = top
        return self._sources[assignment]

    def make(self, assignment: str, user: str | None) -> Container:
        root = world_dir("lstmgs-root-")
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


"""docs/gradescope.md, "Trying it without Gradescope": both shell blocks, run as the doc
writes them, give the example they submit its documented score in a valid results.json.

The blocks are read from the doc, so an edit that breaks them fails here; only their
/tmp/ag is moved (see with_scratch_root). They run from the root of a copy of this
checkout, because `make autograder` writes the zip into the checkout's own dist/ and the
"normal user" of the first block (a throwaway one when this runs as root) must own the
checkout it builds in; the copy's .venv is what `make venv` would leave, made offline
from this process's packages. setup.sh, in the root block, is given the two variables
the doc's table offers for that: AUTOGRADER_PACKAGES and AUTOGRADER_BASE_PYTHON.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader.gradescope.layout import SANDBOX_USER
from grader.gradescope.privileges import reap

from .conftest import IS_ROOT, as_user, leftovers, linked_venv, schema_errors, world_dir

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "gradescope.md"
SECTION = "Trying it without Gradescope"
# Build output, caches and the venv are not part of a checkout; .venv is made below.
NOT_IN_A_CHECKOUT = (".git", ".venv", "dist", "out", ".cache", ".pytest_cache", "__pycache__", "*.egg-info")


def shell_blocks() -> list[str]:
    """The ```sh blocks of the doc's section on trying the zip by hand, in order."""
    text = DOC.read_text(encoding="utf-8")
    sections = [s for s in re.split(r"^## ", text, flags=re.M) if s.split("\n", 1)[0].rstrip().endswith(SECTION)]
    assert len(sections) == 1, f"{DOC} has no single section titled {SECTION!r}"
    return re.findall(r"^```sh\n(.*?)^```", sections[0], flags=re.M | re.S)


def with_scratch_root(block: str, ag: Path) -> str:
    """The block with its /tmp/ag (the stand-in for /autograder) moved to ``ag``: a fixed
    /tmp/ag may be left over from a run by hand, owned by another user or holding an old
    results.json, and two test runs must not share one. Nothing else is substituted."""
    assert re.search(r"/tmp/ag\b", block), f"the block no longer works in /tmp/ag:\n{block}"
    return re.sub(r"/tmp/ag\b", str(ag), block)


def run_block(block: str, cwd: Path, user: str | None, env: dict) -> str:
    """What the block prints, commands and output interleaved. bash -e stops at the first
    command that fails (by hand one would notice and stop), so that the failure shows it;
    -x echoes each command before its output, which is how `cat`'s output is found."""
    proc = subprocess.run(as_user(user, ["bash", "-e", "-x", "-c", block]), cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def printed_results(output: str, ag: Path) -> dict:
    """The results.json the block's `cat` printed."""
    marker = f"+ cat {ag / 'results' / 'results.json'}\n"
    assert marker in output, output[-4000:]
    return json.JSONDecoder().raw_decode(output, output.index(marker) + len(marker))[0]


def submitted_example(block: str) -> Path:
    [name] = re.findall(r"^cp (assignments/lstm_scalar/examples/\S+\.ipynb) ", block, flags=re.M)
    return REPO / name


def assert_documented_grade(doc: dict, example: Path) -> None:
    """results.json gives the example what its examples/expected.toml says it gets."""
    expected = tomllib.loads((example.parent / "expected.toml").read_text(encoding="utf-8"))["example"]
    [documented] = [e for e in expected if e["file"] == example.name]
    assert schema_errors(doc) == []
    assert doc["extra_data"]["error"] == "", doc["extra_data"]
    assert doc["extra_data"]["submission"] == example.name
    assert doc["score"] == documented["score"]
    failed = [t for t in doc["tests"] if t["status"] == "failed"]
    assert sorted({t["tags"][0] for t in failed}) == sorted(documented["lost"])
    for message in documented["messages"]:
        assert any(message in t["output"] for t in failed), message


def install_editable(venv: Path, checkout: Path) -> None:
    """What `pip install --no-deps -e .` leaves in the venv (the checkout on its path and
    pyproject.toml's console scripts) and `make venv`'s stamp. Written here, because pip
    would fetch setuptools' wheel support from an index, which this test must not need."""
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "lstm_autograder_checkout.pth").write_text(f"{checkout}\n")
    scripts = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    for name, target in scripts.items():
        module, function = target.split(":")
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {function}\n"
                          f"sys.exit({function}())\n")
        script.chmod(0o755)
    (venv / ".installed").touch()


@pytest.fixture
def scratch():
    """checkout(owner): a copy of this checkout with a .venv its owner can run, seeing this
    process's packages; folder(owner): an empty folder of the owner's, in which to make ag."""
    made: list[Path] = []

    def folder(owner: str | None) -> Path:
        top = world_dir("lstmgs-doc-")
        made.append(top)
        if owner is not None:
            shutil.chown(top, owner, owner)
        return top

    def checkout(owner: str | None, python: str) -> Path:
        top = folder(None)
        repo = top / "lstm-autograder"
        shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns(*NOT_IN_A_CHECKOUT))
        linked_venv(python, repo / ".venv")
        install_editable(repo / ".venv", repo)
        if owner is not None:
            subprocess.run(["chown", "-R", f"{owner}:{owner}", str(repo)], check=True)
        return repo

    yield folder, checkout
    for top in made:
        shutil.rmtree(top, ignore_errors=True)


def test_the_doc_names_two_blocks_a_normal_users_and_roots():
    normal, root = shell_blocks()
    assert "AUTOGRADER_PYTHON=$PWD/.venv/bin/python" in normal and "setup.sh" not in normal
    assert "setup.sh" in root and "AUTOGRADER_PYTHON" not in root


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("make") and shutil.which("unzip")), reason="the blocks need make and unzip")
def test_the_normal_user_block_grades_the_example_with_its_documented_score(scratch, sandbox_user, sandbox_python):
    # As root (as in CI) the normal user is a throwaway one, owning its checkout and ag.
    folder, checkout = scratch
    block = shell_blocks()[0]
    repo, ag = checkout(sandbox_user, sandbox_python), folder(sandbox_user) / "ag"
    out = run_block(with_scratch_root(block, ag), repo, sandbox_user, {"PATH": os.environ["PATH"]})
    doc = printed_results(out, ag)
    assert doc == json.loads((ag / "results" / "results.json").read_text(encoding="utf-8"))
    assert_documented_grade(doc, submitted_example(block))
    assert "student code runs as this user (not root)" in out
    assert leftovers(sandbox_user) == []


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("make") and shutil.which("unzip")), reason="the blocks need make and unzip")
@pytest.mark.skipif(not IS_ROOT or shutil.which("useradd") is None, reason="setup.sh creates a user: needs root")
def test_the_root_block_runs_setup_sh_offline_and_grades_the_example_with_its_documented_score(
        scratch, sandbox_python):
    try:
        pwd.getpwnam(SANDBOX_USER)
        pytest.skip(f"user {SANDBOX_USER} exists already, and the block's last line deletes it")
    except KeyError:
        pass
    base = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if subprocess.run([str(base), "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        pytest.skip(f"no {base} with venv and ensurepip: setup.sh would apt-get them")
    folder, checkout = scratch
    block = shell_blocks()[1]
    repo, ag = checkout(None, sandbox_python), folder(None) / "ag"
    # The variables of the doc's table that make setup.sh fast and offline: this
    # process's packages (pinned by the same requirements.txt), and a world-executable
    # interpreter of their Python version to build the venv from.
    env = {"PATH": os.environ["PATH"], "AUTOGRADER_PACKAGES": sysconfig.get_paths()["purelib"],
           "AUTOGRADER_BASE_PYTHON": str(base)}
    try:
        out = run_block(with_scratch_root(block, ag), repo, None, env)
    finally:
        try:
            left = pwd.getpwnam(SANDBOX_USER).pw_uid
        except KeyError:
            left = None
        if left is not None:  # the block stopped before its own clean-up
            reap(left)
            subprocess.run(["userdel", SANDBOX_USER], check=False)
    doc = printed_results(out, ag)
    assert_documented_grade(doc, submitted_example(block))
    # setup.sh proved the separation, and grading used it
    checked = re.search(rf"^self-check passed: student code runs as {SANDBOX_USER} \(uid (\d+)\)", out, flags=re.M)
    assert checked, out[-4000:]
    assert f"\nstudent code runs as uid {checked[1]}\n" in out
    # the block's last line cleaned up after itself
    assert left is None and not ag.exists()

"""The autograder zip: what is in it, what is kept out, and that its scripts
and code at least parse where Gradescope will run them (bash, Python 3.10)."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import load_assignment
from grader.gradescope import build

REPO = Path(__file__).resolve().parents[3]
PY310 = Path("/root/.pyenv/versions/3.10.13/bin/python")


@pytest.fixture(scope="module")
def built(zips):
    path = zips("lstm_scalar")
    with zipfile.ZipFile(path) as zf:
        yield path, zf, {i.filename: i for i in zf.infolist()}


def test_the_scripts_sit_at_the_root_and_are_executable(built):
    _, _, entries = built
    for name in ("setup.sh", "run_autograder"):
        assert entries[name].external_attr >> 16 == 0o100755


def test_only_the_one_assignment_ships_without_its_solution_or_example_submissions(built):
    _, _, entries = built
    shipped = {n.split("/")[1] for n in entries if n.startswith("assignments/")}
    assert shipped == {"lstm_scalar"}
    names = [n for n in entries if n.startswith("assignments/lstm_scalar/")]
    assert "assignments/lstm_scalar/assignment.toml" in names
    assert "assignments/lstm_scalar/helpers.py" in names
    assert not [n for n in names if "/examples/" in n or n.split("/")[-1].startswith("solution")]


def test_the_code_ships_without_tests_caches_or_hidden_files(built):
    _, _, entries = built
    tops = {n.split("/")[0] for n in entries}
    assert tops == {"setup.sh", "run_autograder", "gradescope.json", "results.schema.json", "pyproject.toml",
                    "requirements.txt", "grader", "reference", "assignments"}
    assert "grader/gradescope/launch.py" in entries and "reference/__init__.py" in entries
    assert not [n for n in entries if "__pycache__" in n or n.endswith(".pyc") or "/." in n]


def test_requirements_and_schema_are_the_repositorys_byte_for_byte(built):
    _, zf, _ = built
    assert zf.read("requirements.txt") == (REPO / "requirements.txt").read_bytes()
    assert zf.read("results.schema.json") == (REPO / "tests/grader/gradescope/results.schema.json").read_bytes()


def test_the_manifest_describes_the_assignment_for_a_supervisor_that_cannot_load_it(built):
    _, zf, _ = built
    manifest = json.loads(zf.read("gradescope.json"))
    a = load_assignment("lstm_scalar")
    assert {k: manifest[k] for k in ("assignment", "title", "notebook", "max_score", "sandbox_user",
                                      "budget_seconds", "memory_mb")} == {
        "assignment": "lstm_scalar", "title": a.title, "notebook": "lstm_scalar.ipynb",
        "max_score": a.max_score, "sandbox_user": "lstm-sandbox", "budget_seconds": 480, "memory_mb": 512}
    assert manifest["manual"] == [{"id": q.id, "title": q.title, "points": q.points}
                                  for q in a.questions if q.kind == "manual"] != []


def test_templates_are_filled_in_and_both_scripts_parse_as_bash(built, tmp_path):
    _, zf, _ = built
    setup = zf.read("setup.sh").decode()
    assert 'SANDBOX_USER="lstm-sandbox"' in setup and "@" not in setup.replace("$@", "")
    for name in ("setup.sh", "run_autograder"):
        script = tmp_path / name
        script.write_bytes(zf.read(name))
        checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_building_twice_gives_the_same_bytes(tmp_path):
    first = build.build("lstm_scalar", tmp_path / "a")
    second = build.build("lstm_scalar", tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.skipif(not PY310.exists(), reason="no Python 3.10 interpreter here")
def test_every_python_file_in_the_zip_parses_on_python_3_10(built, tmp_path):
    _, zf, _ = built
    zf.extractall(tmp_path)
    code = ("import ast, pathlib, sys\n"
            "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.py')):\n"
            "    ast.parse(p.read_text(encoding='utf-8'), str(p))\n")
    checked = subprocess.run([str(PY310), "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_an_unknown_assignment_fails_the_build_with_the_known_ones_named(capsys, tmp_path):
    assert build.main(["no_such_assignment", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("build: no_such_assignment: unknown assignment; known assignments: ")
    assert "lstm_scalar" in err
    assert list(tmp_path.iterdir()) == []


def test_a_sandbox_user_name_that_could_break_setup_sh_is_refused(tmp_path):
    with pytest.raises(ValueError, match="letters, digits, - and _ only"):
        build.build("lstm_scalar", tmp_path, sandbox_user='x"; rm -rf /; "')


def test_the_launcher_starts_the_supervisor_without_importing_the_grading_engine():
    code = ("import runpy, sys\n"
            "runpy.run_path(sys.argv[1], run_name='launch')['bare_package']()\n"
            "import grader.gradescope.run\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sympy', 'numpy', 'reference'}))\n")
    launcher = REPO / "grader" / "gradescope" / "launch.py"
    out = subprocess.run([sys.executable, "-c", code, str(launcher)], capture_output=True, text=True)
    assert (out.stdout, out.stderr) == ("[]\n", "")


def test_the_build_command_names_the_zip_and_the_points_to_set_on_gradescope(capsys, tmp_path):
    assert build.main(["lstm_scalar", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    a = load_assignment("lstm_scalar")
    by_hand = ", ".join(f"{q.id} ({q.points:g})" for q in a.questions if q.kind == "manual")
    assert out[0].startswith(f"{tmp_path / 'lstm_scalar-autograder.zip'} (")
    assert out[1] == f"Points: {a.max_score:g} autograded; graded by hand on Gradescope: {by_hand}."

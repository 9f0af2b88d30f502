"""The command line: exit codes, JSON, gradebook."""
import json
import shutil

from grader.cli import main

from .conftest import FIXTURES


def test_grading_a_notebook_prints_the_table_and_exits_zero(scalar, capsys):
    assert main(["grade", "lstm_scalar", str(scalar.root / "examples" / "dropped_next_cell_term.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "dropped_next_cell_term.ipynb — lstm_scalar: 31 / 33" in out
    assert "q8 grad_C_t                  0/2" in out


def test_an_unknown_assignment_exits_2_with_one_line(capsys):
    assert main(["grade", "nope", "x.ipynb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lstm-grader: nope: unknown assignment; known assignments: " + err[0].split("known assignments: ")[1]]


def test_an_unreadable_path_exits_2(capsys):
    assert main(["grade", "lstm_scalar", "/no/such/file.ipynb"]) == 2
    assert capsys.readouterr().err.strip() == "lstm-grader: no such file or folder: /no/such/file.ipynb"


def test_a_broken_notebook_still_exits_zero_because_grading_ran(capsys):
    assert main(["grade", "lstm_scalar", str(FIXTURES / "notebooks" / "not_json.ipynb")]) == 0


def test_a_folder_gets_json_reports_and_a_gradebook(scalar, tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(scalar.root / "examples" / "correct.ipynb", folder / "a.ipynb")
    shutil.copy(FIXTURES / "notebooks" / "empty.ipynb", folder / "b.ipynb")
    assert main(["grade", "lstm_scalar", str(folder), "--json", str(tmp_path / "r.json"), "--jobs", "2", "--quiet"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert [(d["submission"], d["score"]) for d in data] == [("a.ipynb", 33.0), ("b.ipynb", 0.0)]
    rows = (folder / "gradebook.csv").read_text().splitlines()
    assert rows[1].startswith("a.ipynb,33,33,") and rows[2].startswith("b.ipynb,0,33,")
    assert "the file is empty" in rows[2]


def test_derive_prints_latex(capsys):
    assert main(["derive", "lstm", "C", "--at", "T"]) == 0
    assert capsys.readouterr().out.strip() == r"\nabla h_{T} o_{T} \left(1 - \tanh^{2}{\left(C_{T} \right)}\right)"

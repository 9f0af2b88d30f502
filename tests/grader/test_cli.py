"""The command line: exit codes, JSON, gradebooks, Gradescope's export, feedback, the other subcommands."""
import csv
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest

from grader import report as R
from grader.cli import main

from .conftest import FIXTURES

EXPORT = FIXTURES / "gradescope_export"
CLI = [sys.executable, "-m", "grader.cli"]


def test_grading_a_notebook_prints_the_table_and_exits_zero(scalar, capsys):
    assert main(["grade", "lstm_scalar", str(scalar.root / "examples" / "dropped_next_cell_term.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "dropped_next_cell_term.ipynb — lstm_scalar: 31 / 33" in out
    assert "q8 grad_C_t                  0/2" in out
    assert "submissions:" not in out      # one file named directly is not a batch


def test_an_unknown_assignment_exits_2_with_one_line(capsys):
    assert main(["grade", "nope", "x.ipynb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    known = err[0].split("known assignments: ")[1]
    assert err == ["lstm-grader: nope: unknown assignment; known assignments: " + known]
    assert "did you mean" not in err[0]


def test_a_misspelt_assignment_gets_a_suggestion(capsys):
    assert main(["grade", "lstm_scaler", "x.ipynb"]) == 2
    assert capsys.readouterr().err.strip().endswith("; did you mean lstm_scalar?")


def test_an_unreadable_path_exits_2(capsys):
    assert main(["grade", "lstm_scalar", "/no/such/file.ipynb"]) == 2
    assert capsys.readouterr().err.strip() == "lstm-grader: no such file or folder: /no/such/file.ipynb"


def test_a_broken_notebook_still_exits_zero_because_grading_ran(capsys):
    assert main(["grade", "lstm_scalar", str(FIXTURES / "notebooks" / "not_json.ipynb")]) == 0


def test_a_folder_gets_json_reports_a_gradebook_and_a_summary(scalar, tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(scalar.root / "examples" / "correct.ipynb", folder / "a.ipynb")
    shutil.copy(FIXTURES / "notebooks" / "empty.ipynb", folder / "b.ipynb")
    (folder / ".~lock.b.ipynb#").write_text("")
    assert main(["grade", "lstm_scalar", str(folder), "--json", str(tmp_path / "r.json"), "--jobs", "2",
                 "--quiet"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert (data["schema"], data["assignment"]) == (2, "lstm_scalar")
    assert [(d["submission"], d["score"]) for d in data["reports"]] == [("a.ipynb", 33.0), ("b.ipynb", 0.0)]
    assert data["skipped"] == [{"path": ".~lock.b.ipynb#", "reason": "a hidden file (its name starts with '.')"}]
    rows = (folder / "gradebook.csv").read_text().splitlines()
    assert rows[1].startswith("a.ipynb,33,33,") and rows[2].startswith("b.ipynb,0,33,")
    assert "the file is empty" in rows[2]
    out = capsys.readouterr().out
    assert "1 file not graded:\n  .~lock.b.ipynb#: a hidden file (its name starts with '.')\n" in out
    assert "2 submissions: mean 16.5 / 33, median 16.5 / 33\n  question      mean    max  full marks\n" in out


def test_one_submission_is_a_document_with_one_report(scalar, tmp_path):
    path = scalar.root / "examples" / "correct.ipynb"
    assert main(["grade", "lstm_scalar", str(path), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == 2 and [r["submission"] for r in data["reports"]] == ["correct.ipynb"]


# -- a Gradescope export, end to end ---------------------------------------------------

@pytest.fixture(scope="module")
def export_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    roster = out / "roster.csv"
    roster.write_text("email,name,sid\nada@example.edu,Ada Lovelace,1815\nzoe@example.edu,Zoe Absent,7777\n")
    argv = ["grade", "lstm_scalar", str(EXPORT), "--jobs", "2", "--json", str(out / "r.json"),
            "--csv", str(out / "gs.csv"), "--format", "gradescope", "--roster", str(roster),
            "--feedback", str(out / "fb")]
    proc = subprocess.run(CLI + argv, capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return proc, out


def test_an_export_is_graded_per_student_with_names_and_every_file_accounted_for(export_run):
    proc, out = export_run
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    assert "Ada Lovelace\nsubmission_1001/lstm_scalar.ipynb — lstm_scalar: 33 / 33\n" in proc.stdout
    assert '=HYPERLINK("http://evil.example","click"); Grace 33 / 33 Hopper\nsubmission_1002/' in proc.stdout
    assert "8 files not graded:\n  .DS_Store: a hidden file (its name starts with '.')\n" in proc.stdout
    assert "  submission_1002/.ipynb_checkpoints/: Jupyter's autosave copies; 1 file inside, none graded\n" \
        in proc.stdout
    assert "\n4 submissions: mean " in proc.stdout
    data = json.loads((out / "r.json").read_text())
    assert [r["submission"] for r in data["reports"]] == [
        "submission_1001/lstm_scalar.ipynb", "submission_1002/lstm_scalar.ipynb", "submission_1003/",
        "submission_1004/my_homework.ipynb"]
    assert data["students"]["submission_1003/"] == [{"name": "O'Brien, Pat", "email": "pat@example.edu",
                                                    "sid": "3003"}]
    assert "found 2 notebooks: draft.ipynb, final.ipynb" in data["reports"][2]["messages"][0]


def test_the_export_gradebook_has_a_row_per_student_and_the_roster_s_absentees(export_run):
    proc, out = export_run
    with open(out / "gs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:7] == ["Name", "SID", "Email", "Total Score", "Max Points", "Status", "Submission ID"]
    assert rows[0][-1] == "15: Why the gradient neither explodes nor vanishes when f ≈ 1 and i ≈ 0 (4.0 pts)"
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["Ada Lovelace"][1:8] == ["1815", "ada@example.edu", "33", "37", "Graded", "1001", "2"]
    assert by_name['\'=HYPERLINK("http://evil.example","click")'][6] == "1002"
    assert by_name["Grace 33 / 33 Hopper"][6] == "1002"
    assert by_name["O'Brien, Pat"][3] == "0" and by_name["Zoe Absent"][3:6] == ["", "37", "Missing"]
    assert len(rows) == 1 + 6


def test_the_export_gets_feedback_files_per_submission(export_run):
    proc, out = export_run
    assert sorted(p.name for p in (out / "fb").iterdir()) == [
        "submission_1001__lstm_scalar.ipynb.html", "submission_1001__lstm_scalar.ipynb.md",
        "submission_1002__lstm_scalar.ipynb.html", "submission_1002__lstm_scalar.ipynb.md",
        "submission_1003.html", "submission_1003.md",
        "submission_1004__my_homework.ipynb.html", "submission_1004__my_homework.ipynb.md"]
    md = (out / "fb" / "submission_1001__lstm_scalar.ipynb.md").read_text(encoding="utf-8")
    assert md.startswith("# Feedback: LSTM gradients, univariate\n\n**Student:** Ada Lovelace \\<ada@example.edu\\>")


def test_a_gradebook_format_needs_a_destination_for_files(scalar, capsys):
    path = scalar.root / "examples" / "correct.ipynb"
    assert main(["grade", "lstm_scalar", str(path), "--format", "canvas"]) == 2
    assert capsys.readouterr().err.strip() == \
        "lstm-grader: --format canvas needs --csv FILE when the submissions are not one folder"


# -- report, check, derive, list, doctor, --version ------------------------------------

def test_report_writes_the_class_page_from_the_json(tmp_path, capsys):
    q = R.QuestionResult("q1", "∇h_T", "grad_h_T", 1.0, 2.0, (), (
        R.TestResult("q1 numeric", "numeric", 1.0, 2.0, "visible", ("half wrong",)),))
    reports = [R.Report("lstm_scalar", f"{k}.ipynb", 1.0, 2.0, (q,)) for k in "ab"]
    (tmp_path / "r.json").write_text(json.dumps({"schema": 2, "assignment": "lstm_scalar",
                                                 "reports": [r.to_dict() for r in reports], "skipped": []}))
    assert main(["report", str(tmp_path / "r.json"), "--out", str(tmp_path / "c.html")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2 submissions: mean 1 / 2, median 1 / 2"
    assert "<h1>Class report: lstm_scalar</h1>" in (tmp_path / "c.html").read_text(encoding="utf-8")


def test_report_on_something_else_exits_2(tmp_path, capsys):
    (tmp_path / "x.json").write_text("[1, 2")
    assert main(["report", str(tmp_path / "x.json"), "--out", str(tmp_path / "c.html")]) == 2
    assert capsys.readouterr().err.startswith(f"lstm-grader: {tmp_path / 'x.json'} is not JSON:")


def test_check_grades_one_question(scalar, capsys):
    path = str(scalar.root / "examples" / "dropped_next_cell_term.ipynb")
    assert main(["check", "lstm_scalar", path, "grad_C_t"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dropped_next_cell_term.ipynb — lstm_scalar: 0 / 2\n  q8 grad_C_t")
    assert "q7" not in out and "ignores the path through C_{t+1}" in out


def test_check_names_the_questions_when_one_is_unknown(scalar, capsys):
    path = str(scalar.root / "examples" / "correct.ipynb")
    assert main(["check", "lstm_scalar", path, "grad_C_T_"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lstm-grader: lstm_scalar has no question grad_C_T_; its questions: q1, q2,")
    assert err.endswith("; did you mean grad_C_T?")
    assert main(["check", "lstm_scalar", path, "q15"]) == 0
    assert "is graded by hand" in capsys.readouterr().out


def test_derive_prints_latex(capsys):
    assert main(["derive", "lstm", "C", "--at", "T"]) == 0
    assert capsys.readouterr().out.strip() == r"\nabla h_{T} o_{T} \left(1 - \tanh^{2}{\left(C_{T} \right)}\right)"


def test_derive_without_a_quantity_lists_them_and_an_unknown_one_is_refused(capsys):
    assert main(["derive", "rnn"]) == 0
    assert capsys.readouterr().out.strip() == "quantities of rnn: h, x, z (and its parameters: W, U, b)"
    assert main(["derive", "rnn", "hh"]) == 2
    assert capsys.readouterr().err.strip() == ("lstm-grader: rnn has no quantity hh; quantities of rnn: h, x, z "
                                               "(and its parameters: W, U, b); did you mean h?")
    assert main(["derive", "lsmt", "C"]) == 2
    assert capsys.readouterr().err.strip().endswith("; did you mean lstm?")


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"lstm-grader {version('lstm-autograder')}"


def test_doctor_reports_versions_and_the_sandbox(capsys):
    import numpy
    import sympy

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"numpy {numpy.__version__}" in out and f"sympy {sympy.__version__}" in out
    assert any(line.startswith("Python 3.") for line in out)
    assert any(line.startswith("isolation: ") and "rlimits" in line and "missing: " in line for line in out)
    assert any(line.startswith("sandbox limits: cell_timeout=") for line in out)


def test_a_reader_that_goes_away_gets_no_traceback():
    proc = subprocess.Popen(CLI + ["list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                      # like `| head` exiting before we write
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0 and err == ""


def test_a_batch_whose_reader_went_away_still_writes_its_gradebook(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        shutil.copy(FIXTURES / "notebooks" / "empty.ipynb", folder / name)
    proc = subprocess.Popen(CLI + ["grade", "lstm_scalar", str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0 and "Traceback" not in err
    assert (folder / "gradebook.csv").read_text().splitlines()[1].startswith("a.ipynb,0,33,")


def test_with_no_kernel_wall_grading_refuses_unless_asked(scalar, monkeypatch, capsys):
    """No namespaces, Landlock or seccomp: exit 2 naming the flag; with the flag it grades."""
    from grader.sandbox import isolation

    bare = isolation.Isolation(("rlimits",), {"namespaces": "no bwrap", "landlock": "no Landlock",
                                              "seccomp": "no libseccomp", "uid": "the grader is not root"})
    monkeypatch.setattr(isolation, "probe", lambda *a, **k: bare)
    notebook = str(scalar.root / "examples" / "correct.ipynb")
    assert main(["grade", "lstm_scalar", notebook]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstm-grader: refusing to grade: isolation: rlimits; missing: namespaces (no bwrap)")
    assert err.rstrip().endswith("use --unsafe-no-isolation to grade anyway")


def test_every_batch_says_which_isolation_layers_held(scalar, tmp_path, capsys):
    from grader.sandbox.isolation import summary

    out_json = tmp_path / "r.json"
    assert main(["grade", "lstm_scalar", str(scalar.root / "examples" / "correct.ipynb"), "--quiet",
                 "--json", str(out_json)]) == 0
    assert summary() in capsys.readouterr().out
    assert json.loads(out_json.read_text())["isolation"] == summary()


def test_assign_and_autograder_are_subcommands_with_the_tools_own_arguments(tmp_path, capsys):
    assert main(["assign", "--check"]) == 0
    assert capsys.readouterr().out.strip().endswith("student notebook(s) are up to date")
    assert main(["autograder", "lstm_scalar", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "lstm_scalar-autograder.zip").is_file()

"""Batches: every file accounted for, ids that tell students apart, Gradescope's export, gradebooks."""
import csv
import functools
import os
import shutil
from pathlib import Path

import pytest

from grader import batch
from grader import report as R
from grader.batch import Skipped, grade_many, survey, write_gradebook
from grader.identity import Identity, Student, identify, read_metadata, read_roster

from .conftest import FIXTURES

EXPORT = FIXTURES / "gradescope_export"


def test_a_folder_is_walked_and_every_file_is_graded_or_skipped_with_a_reason(tmp_path):
    for name in ("alice.ipynb", "sub/bob.py", "sub/deeper/carol.ipynb", ".hidden.ipynb", "notes.txt",
                 ".ipynb_checkpoints/alice-checkpoint.ipynb", ".git/objects/ab", ".git/HEAD",
                 "__pycache__/x.cpython-311.pyc"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    os.symlink("/etc/passwd", tmp_path / "link.py")
    found = survey([tmp_path])
    assert [(e.id, e.path) for e in found.entries] == [
        ("alice.ipynb", tmp_path / "alice.ipynb"), ("sub/bob.py", tmp_path / "sub/bob.py"),
        ("sub/deeper/carol.ipynb", tmp_path / "sub/deeper/carol.ipynb")]
    assert list(found.skipped) == [
        Skipped(".git/", "a hidden folder (its name starts with '.'); 2 files inside, none graded"),
        Skipped(".hidden.ipynb", "a hidden file (its name starts with '.')"),
        Skipped(".ipynb_checkpoints/", "Jupyter's autosave copies; 1 file inside, none graded"),
        Skipped("__pycache__/", "Python's bytecode cache; 1 file inside, none graded"),
        Skipped("link.py", "a symbolic link (not followed)"),
        Skipped("notes.txt", "not a notebook (.ipynb) or a .py file"),
    ]


def test_files_named_directly_keep_their_name_and_missing_paths_are_reported(tmp_path):
    (tmp_path / "a.py").write_text("")
    found = survey([tmp_path / "a.py", tmp_path / "nope.ipynb"])
    assert [e.id for e in found.entries] == ["a.py"] and found.missing == (str(tmp_path / "nope.ipynb"),)


def test_same_file_names_in_different_folders_get_different_ids(tmp_path):
    for who in ("alice", "bob"):
        (tmp_path / who).mkdir()
        (tmp_path / who / "lstm_scalar.ipynb").write_text("{}")
    assert [e.id for e in survey([tmp_path]).entries] == ["alice/lstm_scalar.ipynb", "bob/lstm_scalar.ipynb"]


def test_ids_stay_unique_when_several_paths_are_named(tmp_path):
    for name in ("class1/alice.ipynb", "class2/alice.ipynb", "a/hw.py", "b/hw.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "class1" / ".DS_Store").write_text("")
    found = survey([tmp_path / "class1", tmp_path / "class2", tmp_path / "a/hw.py", tmp_path / "b/hw.py"])
    assert [e.id for e in found.entries] == [(tmp_path / n).as_posix() for n in
                                             ("class1/alice.ipynb", "class2/alice.ipynb", "a/hw.py", "b/hw.py")]
    assert [s.id for s in found.skipped] == [(tmp_path / "class1/.DS_Store").as_posix()]
    assert [e.id for e in survey([tmp_path / "a/hw.py", tmp_path / "class1/alice.ipynb"]).entries] == [
        "hw.py", "alice.ipynb"]


# -- Gradescope's export ----------------------------------------------------------

def test_gradescope_metadata_gives_the_submitters_of_each_folder():
    meta = read_metadata(EXPORT / "submission_metadata.yml")
    assert list(meta) == ["submission_1001", "submission_1002", "submission_1003", "submission_1004",
                          "submission_1005"]
    assert meta["submission_1001"] == (Student("Ada Lovelace", "ada@example.edu", "1815"),)
    # A group, a name that is a formula, and one with a terminal escape (kept raw here; cleaned when shown).
    assert meta["submission_1002"] == (
        Student('=HYPERLINK("http://evil.example","click")', "mallory@example.edu", "2002"),
        Student("Grace \x1b[2K\r33 / 33 Hopper", "grace@example.edu", "1906"))
    assert meta["submission_1003"] == (Student("O'Brien, Pat", "pat@example.edu", "3003"),)
    assert meta["submission_1004"] == (Student("Alan Turing", "alan@example.edu", "1912"),)


def test_metadata_parsing_ignores_results_and_history_and_joins_folded_names(tmp_path):
    path = tmp_path / "submission_metadata.yml"
    path.write_text('submission_7:\n  :submitters:\n  - :name: "A very long name that Psych\n'
                    '      folded"\n    :email: x@y.z\n  :history:\n  - :submitters:\n'
                    '    - :name: Not Me\n  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n'
                    '    tests: []\n', encoding="utf-8")
    assert read_metadata(path) == {"submission_7": (Student("A very long name that Psych folded", "x@y.z", ""),)}


def test_an_export_is_graded_one_file_per_submission_folder():
    found = survey([EXPORT], notebook="lstm_scalar.ipynb")
    assert [(e.id, e.problem[:40]) for e in found.entries] == [
        ("submission_1001/lstm_scalar.ipynb", ""), ("submission_1002/lstm_scalar.ipynb", ""),
        ("submission_1003/", "Expected one Jupyter notebook, preferabl"),
        ("submission_1004/my_homework.ipynb", "")]
    assert [(s.id, s.reason) for s in found.skipped] == [
        (".DS_Store", "a hidden file (its name starts with '.')"),
        ("README.md", "not a notebook (.ipynb) or a .py file"),
        ("submission_1002/.ipynb_checkpoints/", "Jupyter's autosave copies; 1 file inside, none graded"),
        ("submission_1002/lstm_scalar.pdf", "not a notebook (.ipynb) or a .py file"),
        ("submission_1003/draft.ipynb", "submission_1003/ holds no single file to grade (see its report)"),
        ("submission_1003/final.ipynb", "submission_1003/ holds no single file to grade (see its report)"),
        ("submission_1005/", "listed in submission_metadata.yml but not in the folder"),
        ("submission_metadata.yml", "Gradescope's submission metadata (read for names, emails and SIDs)"),
    ]


def test_an_export_inside_the_zip_s_top_folder_is_found_too(tmp_path):
    shutil.copytree(EXPORT, tmp_path / "assignment_42_export")
    found = survey([tmp_path], notebook="lstm_scalar.ipynb")
    assert [e.id for e in found.entries][:2] == ["assignment_42_export/submission_1001/lstm_scalar.ipynb",
                                                 "assignment_42_export/submission_1002/lstm_scalar.ipynb"]
    ada = identify(found.entries[0].id, found.metadata)
    assert (ada.names, ada.submission_id) == ("Ada Lovelace", "1001")
    assert identify(found.entries[2].id, found.metadata).names == "O'Brien, Pat"


def test_unreadable_metadata_costs_the_names_not_the_grading(tmp_path):
    (tmp_path / "submission_1").mkdir()
    (tmp_path / "submission_1" / "hw.ipynb").write_text("{}")
    (tmp_path / "submission_metadata.yml").write_bytes(b"\xff\xfe not yaml")
    found = survey([tmp_path], notebook="lstm_scalar.ipynb")
    assert [e.id for e in found.entries] == ["submission_1/hw.ipynb"] and found.metadata == {}
    assert found.skipped[0].id == "submission_metadata.yml"
    assert found.skipped[0].reason.startswith("Gradescope's submission metadata, unreadable (")
    assert found.skipped[0].reason.endswith("; the submissions are graded without names")


def test_a_roster_joins_by_id_by_file_name_or_by_email(tmp_path):
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text("Email,First Name,Last Name,SID,Submission\n"
                          "ada@example.edu,Ada,King,9999,\n"
                          "bob@example.edu,Bob,Smith,42,bob\n", encoding="utf-8")
    roster = read_roster(roster_csv)
    meta = read_metadata(EXPORT / "submission_metadata.yml")
    # The metadata's own name wins; the roster fills nothing it already has.
    assert identify("submission_1001/lstm_scalar.ipynb", meta, roster) == Identity(
        "submission_1001/lstm_scalar.ipynb", (Student("Ada Lovelace", "ada@example.edu", "1815"),), "1001")
    assert identify("bob.ipynb", None, roster).students == (Student("Bob Smith", "bob@example.edu", "42"),)
    assert identify("carol.ipynb", None, roster).students == ()


def test_a_roster_without_an_id_or_email_column_is_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Name,Section\nAda,1\n")
    with pytest.raises(ValueError, match="a roster needs an id or an email column; its columns are Name, Section"):
        read_roster(path)


# -- gradebooks ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pack():
    from grader import load_assignment

    return load_assignment("bptt_products")


def _report(pack, submission, scores, messages=(), grader_error=""):
    questions = tuple(
        R.QuestionResult(q.id, q.title, q.function, 0.0 if q.kind == "manual" else scores.get(q.id, q.points),
                         q.points, manual=q.kind == "manual")
        for q in pack.questions)
    total = sum(q.score for q in questions if not q.manual)
    return R.Report(pack.name, submission, total, pack.max_score, questions, tuple(messages), grader_error)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture
def graded(pack):
    reports = [_report(pack, "submission_1/hw.ipynb", {"q1": 2.125}),
               _report(pack, "submission_2/hw.ipynb", {}, messages=["=cmd|' /C calc'!A0"])]
    identities = {
        "submission_1/hw.ipynb": Identity("submission_1/hw.ipynb", (Student("Ada", "ada@x.edu", "1"),
                                                                      Student("@Bob", "bob@x.edu", "2")), "1"),
        "submission_2/hw.ipynb": Identity("submission_2/hw.ipynb", (Student("-Eve", "eve@x.edu", "3"),), "2"),
    }
    return reports, identities


def test_the_csv_gradebook_has_a_row_per_student_every_question_and_escaped_cells(pack, graded, tmp_path):
    reports, identities = graded
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAda,ada@x.edu\nZoe,zoe@x.edu\n")
    write_gradebook(reports, pack, tmp_path / "g.csv", "csv", identities, read_roster(roster))
    rows = _rows(tmp_path / "g.csv")
    qids = [q.id for q in pack.questions]
    assert rows[0] == ["submission", "score", "max_score", *qids, "name", "email", "sid", "notes"]
    assert qids[-1] == "q6" and pack.question("q6").kind == "manual"
    assert rows[1] == ["submission_1/hw.ipynb", "17.125", "20", "2.125", "3", "4", "3", "5", "", "Ada", "ada@x.edu",
                       "1", ""]
    assert rows[2][-4:] == ["'@Bob", "bob@x.edu", "2", ""]
    assert rows[3][-4:] == ["'-Eve", "eve@x.edu", "3", "'=cmd|' /C calc'!A0"]
    assert rows[4] == ["", "", "20", "", "", "", "", "", "", "Zoe", "zoe@x.edu", "", "no submission"]


def test_the_gradescope_layout_is_that_of_its_grade_export(pack, graded, tmp_path):
    reports, identities = graded
    write_gradebook(reports, pack, tmp_path / "g.csv", "gradescope", identities)
    rows = _rows(tmp_path / "g.csv")
    assert rows[0][:7] == ["Name", "SID", "Email", "Total Score", "Max Points", "Status", "Submission ID"]
    assert rows[0][7] == f"1: {pack.questions[0].title} (5.0 pts)"
    assert rows[0][-1] == f"6: {pack.questions[-1].title} (4.0 pts)"
    assert rows[1][:8] == ["Ada", "1", "ada@x.edu", "17.125", "24", "Graded", "1", "2.125"]
    assert rows[3][0] == "'-Eve" and rows[3][-1] == ""


def test_the_canvas_layout_is_what_its_gradebook_import_reads(pack, graded, tmp_path):
    reports, identities = graded
    write_gradebook(reports, pack, tmp_path / "g.csv", "canvas", identities)
    assert _rows(tmp_path / "g.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", pack.title],
        ["Points Possible", "", "", "", "", "20"],
        ["Ada", "", "1", "", "", "17.125"],
        ["'@Bob", "", "2", "", "", "17.125"],
        ["'-Eve", "", "3", "", "", "20"],
    ]


def test_an_unknown_format_is_refused(pack, graded, tmp_path):
    with pytest.raises(ValueError, match="unknown gradebook format 'excel'; choose one of csv, gradescope, canvas"):
        write_gradebook(graded[0], pack, tmp_path / "g.csv", "excel")


# -- one broken notebook never stops a batch ------------------------------------------

def test_workers_that_die_cost_each_file_a_report_not_the_batch(pack, tmp_path, monkeypatch):
    # Every worker dies (replaced by /bin/false, as abruptly as a segfault); each
    # file still gets its report, saying what happened, under its own id.
    monkeypatch.setattr(batch, "_grade_one", functools.partial(os.execv, "/bin/false"))
    paths = [tmp_path / f"s{k}.ipynb" for k in range(3)]
    seen = []
    reports = grade_many(pack, paths, jobs=2, ids=["a/s0", "b/s1", "c/s2"],
                         progress=lambda done, total, r: seen.append((done, total)))
    assert [(r.submission, r.score, r.grader_error) for r in reports] == [
        (name, 0.0, "the process grading this file died") for name in ("a/s0", "b/s1", "c/s2")]
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]


def test_not_graded_reports_say_why_for_every_question(pack):
    r = batch.not_graded(pack, "submission_9/", "found 2 notebooks")
    assert r.messages == ("found 2 notebooks",) and r.grader_error == "" and r.score == 0
    assert {q.messages for q in r.questions} == {("not graded: found 2 notebooks",)}
    assert [q.manual for q in r.questions][-1] is True


def test_collect_keeps_its_old_contract(tmp_path):
    shutil.copytree(EXPORT, tmp_path / "e")
    assert [p.relative_to(tmp_path / "e").as_posix() for p in batch.collect([tmp_path / "e"])] == [
        "submission_1001/lstm_scalar.ipynb", "submission_1002/lstm_scalar.ipynb",
        "submission_1004/my_homework.ipynb"]
    assert batch.collect([tmp_path / "missing.py"]) == [Path(tmp_path / "missing.py")]


def test_the_progress_bar_shows_the_time_left_from_the_pace_so_far(pack):
    import io

    ticks = iter([100.0, 110.0, 130.0])          # start, then after 1 and after 3 of 3 files
    stream = io.StringIO()
    show = batch.progress_bar(stream, clock=lambda: next(ticks))
    show(1, 3, batch.not_graded(pack, "a/alice.ipynb", "x"))
    show(3, 3, batch.not_graded(pack, "b/bob.ipynb", "x"))
    lines = stream.getvalue().split("\r")[1:]
    assert lines[0] == "[" + "#" * 10 + "." * 20 + "] 1/3 ETA 0:20 " + "a/alice.ipynb".ljust(30)
    assert lines[1] == "[" + "#" * 30 + "] 3/3 done in 0:30 " + "b/bob.ipynb".ljust(30) + "\n"

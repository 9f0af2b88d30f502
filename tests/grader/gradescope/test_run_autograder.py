"""run_autograder on an unpacked zip, as Gradescope runs it: every example
submission gets exactly the score the engine gives it, in a results.json that
passes the schema; and every way of failing still leaves a valid, honest one."""
from __future__ import annotations

import os
import queue
import stat
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import grade, load_assignment
from grader.assignment import ASSIGNMENTS_DIR
from grader.batch import collect
from grader.sandbox import Limits
from grader.sandbox.isolation import probe

from .conftest import IS_ROOT, leftovers, schema_errors

EXAMPLES = [(pack.name, path) for pack in sorted(ASSIGNMENTS_DIR.iterdir())
            if (pack / "assignment.toml").is_file() and (pack / "examples").is_dir()
            for path in collect([pack / "examples"])]


@pytest.fixture(scope="module")
def engine():
    """grader.grade, in this process and as this user: the scores to match."""
    cache: dict = {}

    def report(assignment: str, path: Path):
        if assignment not in cache:
            cache[assignment] = load_assignment(assignment)
        return grade(cache[assignment], path)

    return report


@pytest.fixture(scope="module")
def example_runs(request, containers, sandbox_users):
    """run_autograder on every selected example, two at a time, each run with a
    user of its own; the tests below compute the engine's reports meanwhile."""
    name = test_each_example_scores_exactly_what_the_engine_gives_it_in_a_valid_results_json.__name__
    selected = [(item.callspec.params["assignment"], item.callspec.params["example"])
                for item in request.session.items if getattr(item, "originalname", "") == name]
    for assignment in {a for a, _ in selected}:
        containers.unpacked(assignment)  # built and unpacked here, once, not raced by the threads
    free: queue.Queue = queue.Queue()
    for user in sandbox_users:
        free.put(user)

    def run(assignment: str, example: Path):
        user = free.get()
        try:
            box = containers.make(assignment, user)
            box.submit(example.name, example)
            return box.run(), leftovers(user)
        finally:
            free.put(user)

    with ThreadPoolExecutor(max_workers=len(sandbox_users)) as pool:
        yield {(a, p): pool.submit(run, a, p) for a, p in selected}


@pytest.mark.slow
@pytest.mark.parametrize("assignment, example", EXAMPLES,
                         ids=[f"{a}/{p.name}" for a, p in EXAMPLES])
def test_each_example_scores_exactly_what_the_engine_gives_it_in_a_valid_results_json(
        example_runs, engine, assignment, example):
    expected = engine(assignment, example)
    run, left = example_runs[(assignment, example)].result()
    assert schema_errors(run.doc) == []
    assert run.doc["score"] == expected.score
    assert run.doc["stdout_visibility"] == "hidden"
    tests = [t for q in expected.questions for t in q.tests]
    assert [(t["score"], t["max_score"], t["status"], t["visibility"]) for t in run.doc["tests"]] == [
        (t.score, t.max_score, t.status, t.visibility) for t in tests]
    assert run.doc["extra_data"]["error"] == ""
    assert left == []


def test_an_upload_without_a_notebook_scores_zero_and_says_what_was_expected_and_found(container):
    box = container()
    box.submit("report.pdf", b"%PDF-1.4")
    box.submit("notes.txt", b"my notes")
    run = box.run()
    assert schema_errors(run.doc) == []
    assert run.doc["score"] == 0
    problem = ("Expected one Jupyter notebook, preferably named lstm\\_scalar.ipynb, or one .py file, "
               "but found only notes.txt, report.pdf.")
    assert run.doc["output"] == f"**Your submission could not be graded, so it scored 0.**\n\n{problem}"
    assert run.doc["tests"] == [{"name": "Finding your notebook", "name_format": "text",
                                 "status": "failed", "output": problem, "output_format": "md",
                                 "visibility": "visible"}]
    assert run.doc["extra_data"]["error"] == "no_submission"


def test_two_notebooks_score_zero_and_both_are_named(container):
    box = container()
    correct = ASSIGNMENTS_DIR / "lstm_scalar" / "examples" / "correct.ipynb"
    box.submit("draft.ipynb", correct)
    box.submit("final/final.ipynb", correct)
    run = box.run()
    assert schema_errors(run.doc) == []
    assert run.doc["score"] == 0
    assert run.doc["tests"][0]["output"] == (
        "Expected one Jupyter notebook, preferably named lstm\\_scalar.ipynb, or one .py file, but "
        "found 2 notebooks: draft.ipynb, final/final.ipynb. Submit only the one to be graded, or "
        "name the one to be graded lstm\\_scalar.ipynb.")


def test_a_grader_crash_is_a_valid_results_json_flagged_as_the_graders_error(container):
    box = container()
    box.submit("mine.ipynb", ASSIGNMENTS_DIR / "lstm_scalar" / "examples" / "correct.ipynb")
    toml = box.source / "assignments" / "lstm_scalar" / "assignment.toml"
    toml.write_text("this is = = not toml\n")
    run = box.run()
    assert schema_errors(run.doc) == []
    assert run.doc["score"] == 0
    assert run.doc["extra_data"]["error"] == "grader_error"
    assert run.doc["extra_data"]["detail"].startswith("the grading process exited with status 1: ")
    assert "assignment.toml is not valid TOML" in run.doc["extra_data"]["detail"]
    assert run.doc["output"].startswith("**The autograder failed while grading this submission. "
                                        "This is not a problem with your work.**")
    assert run.doc["tests"][0]["name"] == "Autograder error (not your fault)"
    # the traceback is for the staff only: stdout, never the student-facing text
    assert "Traceback" in run.stdout and "Traceback" not in run.doc["output"]


def test_when_python_cannot_start_the_shell_script_still_leaves_a_flagged_valid_results_json(container):
    box = container()
    box.submit("mine.ipynb", b"{}")
    run = box.run(AUTOGRADER_PYTHON="/bin/false")
    assert schema_errors(run.doc) == []
    assert (run.doc["score"], run.doc["extra_data"]["error"]) == (0, "grader_error")
    assert "the grader exited with status 1 and wrote no results.json" in run.stdout


def test_grading_over_budget_is_stopped_reported_as_a_timeout_and_leaves_no_process_behind(
        container, sandbox_user):
    box = container()
    box.submit("slow.py", b"# %%\nwhile True:\n    pass\n")
    run = box.run(AUTOGRADER_BUDGET="4")
    assert schema_errors(run.doc) == []
    assert (run.doc["score"], run.doc["extra_data"]["error"]) == (0, "timeout")
    assert run.doc["extra_data"]["detail"] == "the grading process did not finish within 4 s and was killed"
    assert run.doc["output"].startswith("**The autograder did not finish in time")
    assert leftovers(sandbox_user) == []
    if sandbox_user and not probe().has("namespaces"):
        # the looping sandbox child outlived its killed parent until the reaper came; in its own
        # PID namespace (bwrap --die-with-parent) it dies with its parent, often before the reaper looks
        assert "killed processes left by student code: [" in run.stdout


HOSTILE = '''
import os, subprocess, time
ROOT = {root!r}
ESCAPED = []

def attempt(name, action):
    try:
        action()
    except Exception:
        return
    ESCAPED.append(name)

def forked():
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)

attempt("list the grader's source", lambda: os.listdir(ROOT + "/source"))
attempt("stat the reference engine", lambda: os.stat(ROOT + "/source/reference"))
attempt("read the manifest", lambda: open(ROOT + "/source/gradescope.json").read())
attempt("read the assignment", lambda: open(ROOT + "/source/assignments/lstm_scalar/assignment.toml").read())
attempt("read earlier results", lambda: open(ROOT + "/submission_metadata.json").read())
attempt("list the results", lambda: os.listdir(ROOT + "/results"))
attempt("forge results.json", lambda: open(ROOT + "/results/results.json", "w").write('{{"score": 99}}'))
attempt("fork", forked)
attempt("spawn", lambda: subprocess.Popen(["sleep", "600"], start_new_session=True))
attempt("posix_spawn", lambda: os.posix_spawn("/bin/sleep", ["sleep", "600"], {{}}))
# Output is no trick (it is allowed) but must not end up in, or break, results.json.
print('"}}], "score": 99, "PRINTED": "{{')
os.write(1, b'"WRITTEN-TO-FD-1"')

if ESCAPED:  # any trick that worked costs q1, so the score shows it
    def grad_h_T(W_y, y_T, grad_y_T):
        return 0.0
'''


@pytest.mark.skipif(not IS_ROOT, reason="privilege separation needs root")
def test_a_hostile_submission_gets_the_score_it_deserves_and_none_of_its_tricks_work(
        container, overlay, engine, sandbox_user):
    box = container()
    hostile = overlay(textwrap.dedent(HOSTILE.format(root=str(box.root))), name="hostile.py")
    box.submit("hostile.py", hostile)
    run = box.run()
    deserved = engine("lstm_scalar", ASSIGNMENTS_DIR / "lstm_scalar" / "examples" / "correct.ipynb")
    assert schema_errors(run.doc) == []
    assert run.doc["score"] == deserved.score
    assert run.doc["extra_data"]["error"] == ""
    assert leftovers(sandbox_user) == []
    results = box.root / "results"
    assert os.listdir(results) == ["results.json"]
    text = (results / "results.json").read_text()
    assert "PRINTED" not in text and "WRITTEN-TO-FD-1" not in text
    assert stat.S_IMODE(results.stat().st_mode) == 0o700
    # The control: graded in-process as root, with only the audit hook in the
    # way (no isolation layer), the kernel-level tricks succeed and q1 is lost.
    # So the full score above is the work of the separation, not of a harmless notebook.
    unprotected = grade(load_assignment("lstm_scalar"), hostile,
                        Limits(layers=(), unsafe_no_isolation=True))
    assert unprotected.score == deserved.score - 2


@pytest.mark.skipif(not IS_ROOT, reason="the self-check switches users")
def test_self_check_passes_on_a_correct_container_and_fails_on_a_misconfigured_one(container):
    import subprocess

    box = container()
    cmd = [box.env["AUTOGRADER_PYTHON"], "-s", str(box.source / "grader" / "gradescope" / "launch.py"),
           "--self-check"]
    env = box.env
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"self-check passed: student code runs as {box.env['AUTOGRADER_SANDBOX_USER']}" in ok.stdout
    bad = subprocess.run(cmd, env={**env, "AUTOGRADER_SANDBOX_USER": "no-such-user-here"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "self-check FAILED: the sandbox user 'no-such-user-here' does not exist" in bad.stdout
    # An interpreter under /root (mode 0700), as the project's own venv here: unusable by the sandbox user.
    if any(not os.stat(p).st_mode & 0o001 for p in Path(sys.executable).resolve().parents):
        cmd[0] = sys.executable
        bad = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1
        assert f"self-check FAILED: student code cannot run as {box.env['AUTOGRADER_SANDBOX_USER']}" in bad.stdout


def test_how_the_grading_process_ended_is_told_in_words_the_staff_can_act_on():
    from grader.gradescope.run import _ending

    assert _ending(1) == "exited with status 1"
    assert _ending(-9) == "was killed (SIGKILL; most often the container ran out of memory)"
    assert _ending(-15) == "was killed by SIGTERM"
    assert _ending(-99) == "was killed by signal 99"

"""bench/otter/, the Otter-Grader fixture `make bench` times `otter run` on, cannot rot unnoticed.

Checked without Otter installed: its test files are well-formed OK-format files (read as Otter reads
them), their asserts pass on the lstm_scalar solution's functions and on the submission notebook's,
and each fails for a wrong answer; the notebook answers with the solution's own cells. The doctests
run as Otter runs them (otter.test_files.ok_test: one DocTest per case, the notebook's globals).
"""
from __future__ import annotations

import doctest
import importlib.util
import io
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OTTER = REPO / "bench" / "otter"
PACK = REPO / "assignments" / "lstm_scalar"
NOTEBOOK = OTTER / "lstm_scalar_otter.ipynb"
# q1–q5 of lstm_scalar: the gradients at the last step
FUNCTIONS = {"q1": "grad_h_T", "q2": "grad_C_T", "q3": "grad_o_T", "q4": "grad_f_T", "q5": "grad_i_T"}


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def namespace(sources: list[str]) -> dict:
    env: dict = {}
    for source in sources:
        exec(compile(source, "<cell>", "exec"), env)
    return env


def spec(question: str) -> dict:
    env: dict = {}
    exec((OTTER / "tests" / f"{question}.py").read_text(encoding="utf-8"), env)
    assert env.get("OK_FORMAT") is True, question
    return env["test"]


def cases(question: str) -> list[dict]:
    return spec(question)["suites"][0]["cases"]


def passes(code: str, env: dict) -> bool:
    examples = doctest.DocTestParser().parse(code, "case")
    test = doctest.DocTest([e for e in examples if isinstance(e, doctest.Example)], dict(env), "case", None, None, code)
    runner = doctest.DocTestRunner(verbose=False)
    runner.run(test, out=io.StringIO().write, clear_globs=False)
    return runner.failures == 0 and runner.tries == len(test.examples) > 0


@pytest.fixture(scope="module")
def solution() -> dict:
    return namespace(code_cells(PACK / "solution.ipynb"))


def test_the_test_files_are_ok_format_files_of_q1_to_q5_with_ten_numeric_asserts():
    assert sorted(p.stem for p in (OTTER / "tests").glob("*.py")) == sorted(FUNCTIONS)
    asserts = 0
    for question, function in FUNCTIONS.items():
        test = spec(question)
        # what otter.test_files.OKTestFile.from_spec requires
        assert test["name"] == question and test["points"] == 2
        assert len(test["suites"]) == 1
        suite = test["suites"][0]
        assert suite.get("type", "doctest") == "doctest" and not suite.get("setup") and not suite.get("teardown")
        assert [c["hidden"] for c in suite["cases"]] == [False, True]
        for case in suite["cases"]:
            lines = [e.source for e in doctest.DocTestParser().get_examples(case["code"])]
            assert lines[0].startswith(f"got = {function}(") and lines[1].startswith("assert abs(got - ")
            asserts += 1
    assert asserts == 10


def test_the_asserts_pass_on_the_solution_and_on_the_otter_notebook(solution):
    notebook = namespace(code_cells(NOTEBOOK))
    for question in FUNCTIONS:
        for k, case in enumerate(cases(question)):
            assert passes(case["code"], solution), (question, k)
            assert passes(case["code"], notebook), (question, k)


def test_every_assert_fails_for_a_wrong_answer(solution):
    # σ' written as σ (y_T for y_T(1 - y_T)), in the solution's own cells: every case of every question
    sigma_as_prime = namespace([s.replace("(1 - y_T)", "1") for s in code_cells(PACK / "solution.ipynb")])
    for question, function in FUNCTIONS.items():
        right = solution[function]
        off = dict(solution, **{function: lambda *a, f=right: 1.0001 * f(*a)})
        for k, case in enumerate(cases(question)):
            assert not passes(case["code"], off), (question, k)
            assert not passes(case["code"], sigma_as_prime), (question, k)


def test_the_otter_notebook_answers_with_the_correct_examples_cells():
    ours = code_cells(NOTEBOOK)
    correct = code_cells(PACK / "examples" / "correct.ipynb")
    assert ours[0] == correct[0]  # the helpers: sigmoid and tanh
    for function in FUNCTIONS.values():
        mine = [c for c in ours if c.startswith(f"def {function}(")]
        theirs = [c for c in correct if c.startswith(f"def {function}(")]
        assert mine == theirs and len(mine) == 1, function
    assert len(ours) == 1 + len(FUNCTIONS)


def test_the_bench_says_how_to_install_otter_when_it_is_absent(monkeypatch, capsys):
    spec_ = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    run = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(run)
    monkeypatch.setattr(run, "otter_python", lambda: None)
    run.bench_otter(1.0, 0.05, 3)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "make bench-otter" in out

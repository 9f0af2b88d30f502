"""Building student notebooks: deterministic, up to date, and free of anything students must not see."""
from __future__ import annotations

import ast
import json
import re

import nbformat
import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.authoring import (
    AuthoringError, build_student_notebook, pack_dirs, public_tests, stale_student_notebook, student_notebook_text,
    student_path,
    write_student_notebook,
)
from grader.authoring.__main__ import main
from grader.authoring.build import SETUP_TITLE
from grader.authoring.publictests import embedded
from grader.authoring.regions import MANUAL_PROMPT, STUB, strip_code, strip_markdown
from grader.checks import CHECKS
from grader.checks.base import CheckContext
from grader.checks.numeric import NumericCheck
from grader.problems import problem_for

PACKS = pack_dirs()
ids = [p.name for p in PACKS]
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")  # how json writes a float
# IPython only for display(), and only when a Jupyter kernel has already loaded it
RUNTIME_IMPORTS = {"base64", "builtins", "contextlib", "difflib", "html", "inspect", "io", "json", "math", "os",
                   "sys", "traceback", "warnings", "zlib", "numpy", "IPython"}


def solution(pack):
    return nbformat.read(pack / "solution.ipynb", as_version=4)


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_committed_student_notebook_is_exactly_what_the_solution_generates(pack):
    stale = stale_student_notebook(pack)
    assert stale is None, f"{stale} is out of date: run `make assignments` and commit it"


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_generation_is_deterministic_keeps_solution_cell_ids_and_has_no_outputs(pack):
    text = student_notebook_text(pack)
    assert student_notebook_text(pack) == text
    nb = nbformat.reads(text, as_version=4)
    assert [c.id for c in nb.cells] == [c.id for c in solution(pack).cells]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata["lstm_grader"]["assignment"] == pack.name
    assert text.endswith("}\n") and json.loads(text)["nbformat_minor"] >= 5


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_every_solution_region_is_a_stub_and_every_free_response_an_empty_manual_cell(pack):
    assignment = load_assignment(pack)
    student = build_student_notebook(pack)
    manual = iter(q for q in assignment.questions if q.kind == "manual")
    setup = next(c for c in student.cells if c.cell_type == "code")
    for mine, theirs in zip(solution(pack).cells, student.cells):
        if mine.cell_type == "code" and "### BEGIN SOLUTION" in mine.source:
            assert theirs.source == strip_code(mine.source).source
            assert theirs.source.count(STUB) == mine.source.count("### BEGIN SOLUTION")
        elif mine.cell_type == "markdown" and "<!-- BEGIN SOLUTION -->" in mine.source:
            q = next(manual)
            assert theirs.source == strip_markdown(mine.source).source and MANUAL_PROMPT in theirs.source
            assert theirs.metadata["lstm_grader"] == {"manual": True, "question": q.id, "points": q.points}
        elif theirs is not setup:
            assert theirs.source == mine.source
    assert next(manual, None) is None


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_first_code_cell_is_the_helpers_then_the_self_check_and_it_is_locked(pack):
    assignment = load_assignment(pack)
    setup = next(c for c in build_student_notebook(pack).cells if c.cell_type == "code")
    assert setup.source.startswith(SETUP_TITLE + "\n" + assignment.preamble.rstrip("\n") + "\n\n\n# ----")
    assert setup.source.endswith('")\ndel _selfcheck')
    assert setup.metadata["editable"] is False and setup.metadata["deletable"] is False


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_setup_cell_is_collapsed_short_and_carries_the_tests_on_one_line(pack):
    assignment = load_assignment(pack)
    text = student_path(assignment).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)  # nbformat 4.5 knows jupyter.source_hidden; cellView is free-form metadata
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.metadata["jupyter"] == {"source_hidden": True} and setup.metadata["cellView"] == "form"
    assert "collapsed" not in setup.metadata  # that would hide the cell's outputs, a setup error included
    # the helpers, then the runtime: the tests themselves take one line, not hundreds
    assert setup.source.count("\n") < assignment.preamble.count("\n") + 460
    assert embedded(setup.source) == json.loads(json.dumps(public_tests(assignment)))
    assert len(text) < 100_000  # was 140 KB for lstm_vector with the tests pretty-printed


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_setup_cell_imports_only_numpy_and_the_standard_library_and_opens_no_file(pack):
    setup = next(c for c in build_student_notebook(pack).cells if c.cell_type == "code")
    preamble = load_assignment(pack).preamble
    tree = ast.parse(setup.source[len(SETUP_TITLE + "\n" + preamble.rstrip("\n")):])
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= RUNTIME_IMPORTS
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"open", "exec", "eval", "compile", "__import__"}


# --- nothing that must stay with the grader ---------------------------------------


def hidden_cases(assignment):
    """Every case a student must not see: hidden checks, gradcheck, and the symbolic fallback."""
    for q in assignment.auto_questions:
        ctx = CheckContext(assignment, q, problem_for(assignment, q), box=None)
        for spec in q.checks:
            cls = CHECKS[spec.check]
            if issubclass(cls, NumericCheck):
                if spec.hidden or spec.visibility != "visible":
                    yield from cls().cases(ctx, spec)
            elif spec.check == "gradcheck":
                yield from ctx.problem.cases("ordinary", int(spec.option("points", 4)), ctx.seed("gradcheck"))
            elif spec.check == "symbolic":
                for regime in ("ordinary", "saturated"):
                    yield from ctx.problem.cases(regime, 15, ctx.seed("symbolic", "fallback", regime))


def floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
        yield from (float(v) for v in value.ravel())
    elif isinstance(value, dict):
        for v in value.values():
            yield from floats(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from floats(v)


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_student_notebook_contains_no_hidden_case_input_or_expected_value(pack):
    assignment = load_assignment(pack)
    text = student_path(assignment).read_text(encoding="utf-8")
    setup = next(c for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code")
    # the packed tests unpacked, so that their numbers are searched too
    numbers = set(NUMBER.findall(text + json.dumps(embedded(setup.source))))
    public = next(json.loads(json.dumps(c["args"])) for q in public_tests(assignment)["questions"]
                  if not q["manual"] for chk in q["checks"] for c in chk["cases"])
    assert repr(next(floats(public))) in numbers  # the search does find what is there
    searched = 0
    for case in hidden_cases(assignment):
        for x in list(floats(case.args)) + list(floats(case.expected)):
            if len(repr(x)) >= 10:  # 0.5 or 1.0 could appear anywhere; a random float's 17 digits cannot
                assert repr(x) not in numbers, f"hidden value {x!r} ({case.regime}, {case.label}) leaked"
                searched += 1
    assert searched > 0


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_student_notebook_has_no_solution_text_and_imports_neither_grader_nor_reference(pack):
    student = build_student_notebook(pack)
    text = "\n".join(c.source for c in student.cells)
    assert not re.search(r"^\s*(from|import)\s+(grader|reference)\b", text, re.MULTILINE)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    bodies = []
    for cell in solution(pack).cells:
        stripped = strip_code(cell.source) if cell.cell_type == "code" else strip_markdown(cell.source)
        bodies += [line.strip() for body in stripped.solutions for line in body.split("\n")]
    # Lines like `)` or `else:` occur anywhere; a line of real content does not,
    # unless the instructor chose to quote it in a question's hint.
    hints = [q.hint for q in load_assignment(pack).questions]
    telling = [line for line in bodies if len(line) >= 8 and not any(line in h for h in hints)]
    assert telling
    assert [line for line in telling if line in text] == []


# --- refusing broken packs --------------------------------------------------------


def edit_solution(pack, change):
    nb = nbformat.read(pack / "solution.ipynb", as_version=4)
    change(nb)
    nbformat.write(nb, pack / "solution.ipynb")


def first_with(nb, text):
    return next(c for c in nb.cells if text in c.source)


def test_a_setup_cell_that_differs_from_the_preamble_file_is_refused(scratch_pack):
    pack = scratch_pack(edit=lambda p: edit_solution(p, lambda nb: first_with(nb, "def sigmoid").__setitem__(
        "source", first_with(nb, "def sigmoid").source + "\nEXTRA = 1\n")))
    with pytest.raises(AuthoringError) as info:
        build_student_notebook(pack)
    assert str(info.value) == ("lstm_scalar, solution.ipynb cell 2: the first code cell must be the pack's preamble "
                               "file verbatim (the grader runs that file, students run this cell)")


def test_a_misspelt_marker_is_refused_naming_the_cell_instead_of_shipping_the_answer(scratch_pack):
    def misspell(nb):
        cell = first_with(nb, "def grad_h_T(")
        cell.source = cell.source.replace("### BEGIN SOLUTION", "## BEGIN SOLUTION")

    pack = scratch_pack(edit=lambda p: edit_solution(p, misspell))
    number = 1 + next(k for k, c in enumerate(solution(pack).cells) if "def grad_h_T(" in c.source)
    with pytest.raises(AuthoringError) as info:
        build_student_notebook(pack)
    assert str(info.value) == (f"lstm_scalar, solution.ipynb cell {number}: line 3: '## BEGIN SOLUTION' looks like a "
                               "solution marker but is not exactly '### BEGIN SOLUTION' or '### END SOLUTION' on a "
                               "line of its own")


def test_free_response_regions_must_pair_with_the_manual_questions(scratch_pack):
    def drop_region(nb):
        nb.cells = [c for c in nb.cells if "<!-- BEGIN SOLUTION -->" not in c.source]

    pack = scratch_pack(edit=lambda p: edit_solution(p, drop_region))
    with pytest.raises(AuthoringError) as info:
        build_student_notebook(pack)
    assert str(info.value) == ("lstm_scalar: 1 question(s) are graded by hand (q15) but solution.ipynb has 0 "
                               "markdown solution region(s); pair them one to one, in order")


def test_a_pack_without_a_student_notebook_name_is_refused(scratch_pack):
    def unname(pack):
        toml = pack / "assignment.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('notebook = "lstm_scalar.ipynb"\n', ""),
                        encoding="utf-8")

    with pytest.raises(AuthoringError) as info:
        write_student_notebook(scratch_pack(edit=unname))
    assert str(info.value) == "lstm_scalar: assignment.toml names no student `notebook`"


# --- the command line ---------------------------------------------------------------


def test_command_line_writes_reports_unchanged_and_check_fails_only_when_stale(scratch_pack, capsys):
    pack = scratch_pack()
    target = pack / "lstm_scalar.ipynb"
    target.write_text("{}", encoding="utf-8")
    assert main(["--check", str(pack)]) == 1
    assert capsys.readouterr().out == f"stale: {target} (run `make assignments`)\n"
    assert target.read_text(encoding="utf-8") == "{}"  # --check writes nothing
    assert main([str(pack)]) == 0
    assert capsys.readouterr().out == f"wrote: {target}\n"
    assert main([str(pack)]) == 0
    assert capsys.readouterr().out == f"unchanged: {target}\n"
    assert main(["--check", str(pack)]) == 0
    assert capsys.readouterr().out == "all 1 student notebook(s) are up to date\n"


def test_command_line_reports_a_broken_pack_on_stderr_and_fails(scratch_pack, capsys):
    pack = scratch_pack(edit=lambda p: edit_solution(p, lambda nb: nb.cells.__setitem__(
        slice(None), [c for c in nb.cells if c.cell_type == "markdown"])))
    assert main([str(pack)]) == 1
    assert capsys.readouterr().err == "error: lstm_scalar: solution.ipynb has no code cell\n"


def test_a_solution_saved_without_cell_ids_still_builds_the_same_ids_every_time(scratch_pack):
    def drop_ids(pack):
        path = pack / "solution.ipynb"
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["nbformat_minor"] = 4
        for cell in raw["cells"]:
            del cell["id"]
        path.write_text(json.dumps(raw), encoding="utf-8")

    pack = scratch_pack(edit=drop_ids)
    first = [c.id for c in build_student_notebook(pack).cells]
    assert [c.id for c in build_student_notebook(pack).cells] == first
    assert len(set(first)) == len(first) and all(re.fullmatch(r"[0-9a-f]{8}", i) for i in first)


@pytest.mark.parametrize("pack", PACKS, ids=ids)
def test_every_ungraded_cell_that_calls_a_students_function_guards_itself(pack):
    """So that Run All on the unanswered notebook never stops on a stub (the kernel test runs it)."""
    functions = {f for q in load_assignment(pack).questions for f in q.student_functions}
    cells = [c for c in solution(pack).cells if c.cell_type == "code"][1:]
    for cell in cells:
        if "### BEGIN SOLUTION" in cell.source:
            continue
        tree = ast.parse(cell.source)
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        if calls & functions:
            guarded = [h for n in ast.walk(tree) if isinstance(n, ast.Try) for h in n.handlers
                       if isinstance(h.type, ast.Name) and h.type.id == "NotImplementedError"]
            assert guarded, f"cell {cell.id} calls {sorted(calls & functions)} without except NotImplementedError"

"""Cells run one top-level statement at a time: a statement that cannot be
compiled, or that raises, costs itself and not the definitions after it, and
the note names the cell, the line(s), the statement and the error."""
from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

from grader.notebook import load_submission
from grader.sandbox import Limits, Sandbox
from grader.sandbox.child import statements
from grader.source import CodeCell

from .conftest import FAST

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
REST = "; the rest of the cell still ran"


def notes(setup) -> list[str]:
    return [note for cell in setup.cells for note in cell.notes]


def run_fixture(name: str, limits: Limits = FAST):
    """(setup, sandbox) for a fixture file read as the grader reads it."""
    box = Sandbox(load_submission(NOTEBOOKS / name).cells, limits=limits)
    return box.setup(), box


# --- splitting a cell that does not compile, without running anything ----------


def chunks(source: str) -> list[tuple[int, int]]:
    return statements.split(textwrap.dedent(source).split("\n"))


def test_split_keeps_decorators_branches_comments_and_strings_with_their_statement():
    assert chunks('''\
        import numpy as np
        # a comment between statements

        @cache
        @wrap(1,
              2)
        def f(x):
            doc = """
        def not_a_statement():
        """
        # a comment at column 0 inside the body
            return x

        if x:
            pass
        elif y:
            pass
        else:
            pass
        try:
            pass
        except E, e:
            pass
        finally:
            pass
        total = (1 +
        2) + \\
        3
        print 'x'
        ''') == [(1, 1), (4, 12), (14, 19), (20, 25), (26, 28), (29, 29)]


def test_split_starts_a_statement_at_a_def_after_a_bracket_that_is_never_closed():
    assert chunks("""\
        xs = np.linspace(-5, 5, 11
        def f(y):
            return (y
        import os
        """) == [(1, 1), (2, 3), (4, 4)]


def test_split_takes_a_first_statement_that_is_indented_by_mistake():
    assert chunks("\n  x = 1\ny = 2\n") == [(2, 2), (3, 3)]


# --- naming Python 2 and its fix ---------------------------------------------------


@pytest.mark.parametrize("line, fix", [
    ("print 'x'", "print('x')"),
    ("print x, y", "print(x, y)"),
    ("    print 'indented', x  # a comment", "print('indented', x)"),
    ("print 'no newline',", "print('no newline', end=' ')"),
    ("print >>sys.stderr, 'oops'", "print('oops', file=sys.stderr)"),
    ('exec "a = 1"', 'exec("a = 1")'),
    ("exec code in ns", "exec(code, ns)"),
    ("except ValueError, e:", "except ValueError as e:"),
    ("except (KeyError, IndexError), err:", "except (KeyError, IndexError) as err:"),
    ('raise ValueError, "bad shape"', 'raise ValueError("bad shape")'),
    ("s = `x`", "s = repr(x)"),
    ("if a <> b:", "if a != b:"),
    ("os.chmod(path, 0777)", "os.chmod(path, 0o777)"),
    ("pattern = ur'\\d+'", "pattern = r'\\d+'"),
    ("n = 10L", "n = 10"),
    ("print 'a <> b is `odd`'", "print('a <> b is `odd`')"),
])
def test_python2_statements_get_their_python3_spelling(line, fix):
    assert statements.python2_fix(line) == fix


@pytest.mark.parametrize("line", ["print x y", "x = = 1", "def f(:", "retrun y", "x = 1"])
def test_lines_that_are_not_python2_get_no_fix(line):
    assert statements.python2_fix(line) is None


def test_plan_compiles_each_statement_with_the_lines_it_has_in_the_cell():
    source = "import numpy as np\n\nprint 'x'\n\n@staticmethod\ndef f(a):\n    return a\n"
    items = statements.plan(source, "<cell 4>")
    assert [(i.line, i.end, i.text, i.code is None) for i in items] == [
        (1, 1, "import numpy as np", False), (3, 3, "print 'x'", True),
        (5, 7, "def f(a):", False)]
    assert items[2].code.co_filename == "<cell 4>"
    assert items[1].failure == {"error": "SyntaxError: Missing parentheses in call to 'print'. "
                                         "Did you mean print(...)?",
                                "at": 3, "python2": "print('x')", "defines": ""}


# --- real fixtures through a real child ----------------------------------------------


def test_a_py_file_with_python2_prints_in_its_starter_code_keeps_every_function():
    """No `# %%` markers: the whole file is one cell, as before; only the two
    print statements are lost, and each note says how to write them."""
    submission = load_submission(NOTEBOOKS / "python2_starter.py")
    assert [c.number for c in submission.cells] == [1]
    assert submission.problems == ()  # the reader no longer parses Python
    setup, box = run_fixture("python2_starter.py")
    with box:
        assert setup.functions == (("sigmoid", ("x",)), ("dsigmoid", ("y",)), ("dtanh", ("y",)))
        assert (setup.cells[0].status, setup.cells[0].message) == ("ok", "")
        assert setup.cells[0].notes == (
            "cell 1, line 4 (`print 'Loading the homework helpers...'`): this is Python 2 syntax: "
            "write print('Loading the homework helpers...'); this line was skipped" + REST,
            "cell 1, line 20 (`print 'sigmoid(0) =', sigmoid(0)`): this is Python 2 syntax: "
            "write print('sigmoid(0) =', sigmoid(0)); this line was skipped",
        )
        assert box.call("dsigmoid", [0.5]).value == 0.25


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_import_torch_at_the_top_of_a_cell_costs_only_that_import():
    setup, box = run_fixture("import_torch.ipynb")
    with box:
        assert [n for n, _ in setup.functions] == ["sigmoid", "grad_o_t", "grad_f_t"]
        assert notes(setup) == [
            "cell 2, line 1 (`import torch`): ModuleNotFoundError: No module named 'torch'" + REST]
        assert box.call("grad_o_t", [0.0, 2.0]).value == 0.0


def test_one_broken_statement_among_good_ones_costs_only_itself():
    setup, box = run_fixture("broken_statement.ipynb")
    with box:
        assert [n for n, _ in setup.functions] == ["sigmoid", "dsigmoid", "dtanh", "grad_i_t"]
        assert [(c.number, c.status) for c in setup.cells] == [(2, "ok"), (4, "ok")]
        assert notes(setup) == [
            "cell 2, line 7 (`xs = np.linspace(-5, 5, 11`): SyntaxError: '(' was never closed; "
            "this line was skipped" + REST]


def test_a_misspelt_keyword_inside_a_function_costs_that_function_and_names_it():
    setup, box = run_fixture("syntax_error.ipynb")
    with box:
        assert [n for n, _ in setup.functions] == ["sigmoid", "dtanh", "is_zero"]
        assert notes(setup) == [
            "cell 5, lines 1-3 (`def dsigmoid(y):`): SyntaxError: invalid syntax at line 3; "
            "these lines were skipped, so dsigmoid is not defined"]


# --- inline cells: the rules one at a time ---------------------------------------------


def run_cells(*sources: str, limits: Limits = FAST):
    box = Sandbox([CodeCell(k, textwrap.dedent(s)) for k, s in enumerate(sources, 1)], limits=limits)
    return box.setup(), box


def test_python2_inside_a_function_names_the_line_and_the_function_lost():
    setup, box = run_cells("""\
        def show(x):
            print x
            return x

        def keep():
            try:
                return 1
            except ValueError, e:
                return 2
        def last(): return 3
        """)
    with box:
        assert [n for n, _ in setup.functions] == ["last"]
        assert notes(setup) == [
            "cell 1, lines 1-3 (`def show(x):`): line 2 is Python 2 syntax: write print(x); "
            "these lines were skipped, so show is not defined" + REST,
            "cell 1, lines 5-9 (`def keep():`): line 8 is Python 2 syntax: write except ValueError "
            "as e:; these lines were skipped, so keep is not defined" + REST]


def test_tracebacks_keep_the_lines_of_the_cell_after_a_broken_statement():
    setup, box = run_cells("print 'x'\n\ndef f(a):\n    b = a\n    return b / 0\n")
    with box:
        assert box.call("f", [1]).message == ("raised ZeroDivisionError: division by zero "
                                              "(cell 1, line 5)")


def test_a_statement_the_compiler_refuses_is_skipped_and_the_rest_runs():
    setup, box = run_cells("x = 1\nreturn x\ndef f(): return x\n")
    with box:
        assert setup.has("f") and box.call("f").value == 1
        assert notes(setup) == [
            "cell 1, line 2 (`return x`): SyntaxError: 'return' outside function; "
            "this line was skipped" + REST]


def test_an_error_raised_inside_an_earlier_function_names_both_lines():
    setup, box = run_cells("def half(n):\n    return n / 0\n", "y = half(4)\nz = 2\n")
    with box:
        assert notes(setup) == [
            "cell 2, line 1 (`y = half(4)`): ZeroDivisionError: division by zero "
            "(raised at cell 1, line 2)" + REST]


def test_future_imports_still_apply_to_the_statements_after_them():
    setup, box = run_cells("from __future__ import annotations\n"
                           "def f(x: NotDefinedAnywhere) -> NotDefinedEither:\n    return x\n")
    with box:
        assert notes(setup) == [] and box.call("f", [2]).value == 2


def test_sys_exit_still_stops_the_cell_after_earlier_statement_notes():
    setup, box = run_cells("import nope_not_here\nimport sys\nsys.exit(2)\ndef f(): pass\n",
                           "def g(): return 1\n")
    with box:
        cell = setup.cells[0]
        assert (cell.status, cell.message) == (
            "error", "called sys.exit(2) (cell 1, line 3); the rest of the cell was skipped")
        assert cell.notes == ("cell 1, line 1 (`import nope_not_here`): ModuleNotFoundError: "
                              "No module named 'nope_not_here'" + REST,)
        assert [n for n, _ in setup.functions] == ["g"]


def test_a_timeout_still_costs_the_rest_of_its_cell_and_says_so():
    setup, box = run_cells("import nope_not_here\nwhile True:\n    pass\ndef f(): pass\n",
                           "def g(): return 1\n")
    with box:
        cell = setup.cells[0]
        assert cell.status == "timeout"
        assert re.fullmatch(r"did not finish within 1 s \(stopped at cell 1, line [23]\); anything "
                            r"the cell defines after that point is missing", cell.message)
        assert cell.notes == ("cell 1, line 1 (`import nope_not_here`): ModuleNotFoundError: "
                              "No module named 'nope_not_here'" + REST,)
        assert [n for n, _ in setup.functions] == ["g"]


def test_a_cell_full_of_failing_statements_reports_twenty_and_counts_the_rest():
    setup, box = run_cells("".join(f"v{k} = 1 / 0\n" for k in range(25)) + "def f(): return 1\n")
    with box:
        cell = setup.cells[0]
        assert len(cell.notes) == 21 and setup.has("f")
        assert cell.notes[0] == "cell 1, line 1 (`v0 = 1 / 0`): ZeroDivisionError: division by zero" + REST
        assert cell.notes[-1] == "cell 1: 5 more top-level statement(s) failed (not listed)"

"""grader.notebook: every way a submission file can arrive, read from real fixture files."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from grader.notebook import load_submission
from grader.source import CodeCell, SourceProblem, SubmissionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks"

TRUNCATED = (
    "; the file ends before the notebook does, so it was probably cut off while "
    "uploading or saving: save it again in Jupyter and resubmit"
)


def refused(name: str | Path) -> SubmissionError:
    with pytest.raises(SubmissionError) as info:
        load_submission(FIXTURES / name)
    assert info.value.path == FIXTURES / name
    return info.value


def numbers(submission) -> list[int]:
    return [cell.number for cell in submission.cells]


# --- files that cannot be graded at all ----------------------------------------


def test_plain_python_saved_as_ipynb_is_reported_as_not_json_with_position():
    error = refused("not_json.ipynb")
    assert error.message == "is not a Jupyter notebook: it is not valid JSON (line 1, column 1: Expecting value)"
    assert str(error) == f"not_json.ipynb: {error.message}"


def test_notebook_cut_off_inside_a_string_is_reported_as_probably_truncated():
    assert refused("truncated.ipynb").message == (
        "is not a Jupyter notebook: it is not valid JSON (line 12, column 5: Unterminated string)" + TRUNCATED
    )


def test_notebook_cut_off_between_cells_is_reported_as_probably_truncated():
    assert refused("truncated_between_cells.ipynb").message == (
        "is not a Jupyter notebook: it is not valid JSON (line 11, column 1: Expecting value)" + TRUNCATED
    )


def test_empty_file_is_refused_as_empty():
    assert refused("empty.ipynb").message == "the file is empty"


def test_json_list_is_not_a_notebook():
    assert refused("json_list.ipynb").message == (
        "is not a Jupyter notebook: it is valid JSON, but a list rather than a notebook"
    )


def test_json_object_without_nbformat_is_not_a_notebook():
    assert refused("json_object.ipynb").message == (
        'is not a Jupyter notebook: it is valid JSON, but has no "nbformat" version field'
    )


def test_nbformat_2_is_refused_naming_the_version_found_and_those_supported():
    assert refused("nbformat2.ipynb").message == (
        "uses notebook format version 2, which cannot be graded: only versions 4 and 3 are supported; "
        "open it in a recent Jupyter and save it, which converts it to version 4"
    )


def test_wrong_extension_is_refused_naming_the_accepted_ones():
    assert refused("homework.txt").message == (
        "has the extension '.txt', but only Jupyter notebooks (.ipynb) and Python files (.py) can be graded"
    )


def test_missing_file_is_refused():
    assert refused("does_not_exist.ipynb").message == "the file does not exist"


def test_directory_is_refused():
    with pytest.raises(SubmissionError) as info:
        load_submission(FIXTURES)
    assert info.value.message == "is a folder, not a file; submit the .ipynb or .py file itself"


def test_non_utf8_file_is_refused_pointing_at_the_bad_byte():
    assert refused("latin1.py").message == (
        "is not UTF-8 text (byte 0xdc on line 1 is not valid UTF-8); "
        "save the file with UTF-8 encoding and submit it again"
    )


# --- notebooks that are read, with problems noted --------------------------------


def test_nbformat_3_is_upgraded_counting_heading_and_markdown_cells(caplog):
    submission = load_submission(FIXTURES / "nbformat3.ipynb")
    assert submission.cells == (
        CodeCell(2, "import numpy as np\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))"),
        CodeCell(4, "def dsigmoid(y):\n    return y * (1 - y)"),
    )
    assert submission.problems == (
        SourceProblem(None, "the notebook uses the old format version 3; it was converted to version 4 to be graded"),
    )
    # A well-formed v3 file must not make nbformat log schema complaints.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_notebook_without_code_cells_gives_empty_submission_and_says_so():
    """Whitespace-only code cells do not count as code; raw cells are never code."""
    submission = load_submission(FIXTURES / "no_code_cells.ipynb")
    assert submission.cells == ()
    assert submission.problems == (SourceProblem(None, "the notebook has no code cells"),)


def test_syntax_errors_are_left_to_the_sandbox_so_cells_are_kept_verbatim():
    """The reader never parses Python: the sandbox child compiles each cell one
    top-level statement at a time, so a broken statement costs only itself
    (tests/grader/sandbox/test_statements.py). Cell 7 (`n is 0`) would draw a
    SyntaxWarning, which pytest makes an error: none may escape."""
    submission = load_submission(FIXTURES / "syntax_error.ipynb")
    assert numbers(submission) == [2, 4, 5, 6, 7]
    assert submission.cells[2] == CodeCell(
        5, "def dsigmoid(y):\n    # derivative in terms of the output\n    retrun y * (1 - y)\n")
    assert submission.problems == ()


def test_py_without_markers_and_with_python2_prints_is_still_one_whole_cell():
    path = FIXTURES / "python2_starter.py"
    submission = load_submission(path)
    assert submission.cells == (CodeCell(1, path.read_text(encoding="utf-8")),)
    assert submission.problems == ()


def test_hand_edited_notebook_with_bom_crlf_tabs_and_missing_fields_is_read(caplog):
    """BOM before the JSON, no ids/outputs/execution counts, CRLF inside a source,
    tab indentation, a BOM inside a source, a damaged cell, and whitespace-only
    first and last code cells (dropped silently, nothing logged)."""
    submission = load_submission(FIXTURES / "sloppy.ipynb")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert submission.cells == (
        CodeCell(3, "def f(x):\n\tif x:\n\t\tpass  # IPython, not run: !echo hi\n\treturn x\n"),
        CodeCell(5, "y = f(2)\nz = y % 2"),
    )
    assert submission.problems == (
        SourceProblem(4, "cell 4: this cell is damaged in the notebook file, so it was skipped"),
    )


# --- IPython syntax ------------------------------------------------------------------


def test_magics_shell_and_help_become_pass_at_the_same_indentation():
    cells = {cell.number: cell.source for cell in load_submission(FIXTURES / "magics.ipynb").cells}
    assert cells[2] == (
        "pass  # IPython, not run: %matplotlib inline\n"
        "import numpy as np\n"
        "pass  # IPython, not run: !pip install autograd\n"
        "pass  # IPython, not run: np.tanh?\n"
        "pass  # IPython, not run: ??np.exp\n"
        "pass  # IPython, not run: ?np\n"
        "pass  # IPython, not run: %run helper.py\n"
    )
    assert cells[3] == (
        "def check(x):\n"
        "    if x > 0:\n"
        "        pass  # IPython, not run: %time y = x % 3\n"
        "    else:\n"
        '        pass  # IPython, not run: !echo "negative"\n'
        "    return x % 2\n"
    )
    assert cells[5] == "def f(x):\n\tpass  # IPython, not run: %who\n\treturn x\n"


def test_percent_in_expressions_strings_and_continuations_is_left_alone():
    """Only the two assignment-from-IPython lines change; `%` as an operator, in
    strings, in a triple-quoted string, after `(` or `\\`, and a `?` in a comment stay."""
    source = load_submission(FIXTURES / "magics.ipynb").cells[2].source
    assert source == (
        "pass  # IPython, not run: files = !ls\n"
        "pass  # IPython, not run: t = %timeit -o check(1)\n"
        'ratio = 7 % 3\nlabel = "100%"\nfmt = "%d items" % 4\n'
        'doc = """\n%matplotlib inline stays text\n!so does this\n"""\n'
        "width = (10\n         % 4)\nheight = 10 \\\n    % 4\n"
        'print("done?")  # really?'
    )


def test_only_ipython_commands_that_may_define_something_are_reported():
    """%matplotlib, !pip, help and plain %time/%timeit define nothing; %run,
    `%time y = ...` and assignments from IPython commands may."""
    assert load_submission(FIXTURES / "magics.ipynb").problems == tuple(
        SourceProblem(cell, f"cell {cell}, line {line}: the IPython command `{command}` was not run, "
                            "so anything it defines is missing")
        for cell, line, command in [
            (2, 7, "%run helper.py"),
            (3, 3, "%time y = x % 3"),
            (4, 1, "files = !ls"),
            (4, 2, "t = %timeit -o check(1)"),
        ]
    )


def test_non_python_cell_magics_are_skipped_and_timing_magics_keep_their_body():
    submission = load_submission(FIXTURES / "cell_magics.ipynb")
    assert submission.cells == (
        CodeCell(2, "# %%time  (IPython cell magic: only the body is graded)\n"
                    "def lstm_step(x):\n    return x\n"),
        CodeCell(4, "# %%capture out  (IPython cell magic: only the body is graded)\n"
                    "import numpy as np\n"),
        CodeCell(6, "\n# %%timeit  (IPython cell magic: only the body is graded)\nlstm_step(0.5)\n"),
    )
    assert submission.problems == tuple(
        SourceProblem(n, f"cell {n}: this is a %%{magic} cell, not Python, so it was skipped")
        for n, magic in [(1, "bash"), (3, "writefile"), (7, "html")]
    )


# --- .py files ---------------------------------------------------------------------


def test_py_with_markers_numbers_blocks_and_skips_markdown_and_jupytext_header():
    submission = load_submission(FIXTURES / "with_markers.py")
    assert submission.cells == (
        CodeCell(2, "import numpy as np\n"),
        CodeCell(3, "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n"),
        CodeCell(4, "pass  # IPython, not run: %timeit sigmoid(0.5)\n"
                    "def dsigmoid(y):\n    return y * (1 - y)\n"),
    )
    assert submission.problems == ()


def test_py_code_before_the_first_marker_is_block_1():
    submission = load_submission(FIXTURES / "code_before_marker.py")
    assert submission.cells == (
        CodeCell(1, "import numpy as np\n"),
        CodeCell(2, "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n"),
    )


def test_py_without_markers_is_one_cell_with_crlf_normalised_and_tabs_kept():
    submission = load_submission(FIXTURES / "no_markers.py")
    assert submission.cells == (
        CodeCell(1, "import numpy as np\n\n\ndef tanh_grad(y):\n\treturn 1 - y ** 2\n"),
    )
    assert submission.problems == ()


def test_accepts_str_paths_and_records_the_path():
    submission = load_submission(str(FIXTURES / "no_markers.py"))
    assert submission.path == FIXTURES / "no_markers.py"

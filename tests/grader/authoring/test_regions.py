"""grader.authoring.regions: what replaces a solution, and which markers are refused."""
from __future__ import annotations

import pytest

from grader.authoring.regions import MANUAL_PROMPT, RegionError, strip_code, strip_markdown

FUNCTION = '''def grad(a, b):
    """Docstring stays."""
    ### BEGIN SOLUTION
    c = a * b
    return c
    ### END SOLUTION
'''


def test_code_region_becomes_a_stub_at_the_markers_indentation_keeping_def_and_docstring():
    stripped = strip_code(FUNCTION)
    assert stripped.source == ('def grad(a, b):\n    """Docstring stays."""\n'
                               '    raise NotImplementedError("write your answer here")\n')
    assert stripped.solutions == ("    c = a * b\n    return c",)


def test_every_region_of_a_cell_is_replaced_and_code_between_them_is_kept():
    source = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\nz = 3\n" \
             "if x:\n        ### BEGIN SOLUTION\n        w = 4\n        ### END SOLUTION\n"
    stripped = strip_code(source)
    assert stripped.source == ('x = 1\nraise NotImplementedError("write your answer here")\nz = 3\nif x:\n'
                               '        raise NotImplementedError("write your answer here")\n')
    assert stripped.solutions == ("y = 2", "        w = 4")


def test_code_without_markers_is_unchanged():
    assert strip_code("import numpy as np\n").source == "import numpy as np\n"
    assert strip_code("import numpy as np\n").solutions == ()


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "### BEGIN SOLUTION is never closed by ### END SOLUTION"),
    ("x = 1\n### END SOLUTION\n", "line 2: ### END SOLUTION without a ### BEGIN SOLUTION before it"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "line 2: ### BEGIN SOLUTION inside another solution region"),
    ("## BEGIN SOLUTION\nx = 1\n## END SOLUTION\n",
     "line 1: '## BEGIN SOLUTION' looks like a solution marker but is not exactly '### BEGIN SOLUTION' "
     "or '### END SOLUTION' on a line of its own"),
    ("x = 1  ### BEGIN SOLUTION\n",
     "line 1: 'x = 1  ### BEGIN SOLUTION' looks like a solution marker but is not exactly "
     "'### BEGIN SOLUTION' or '### END SOLUTION' on a line of its own"),
])
def test_malformed_code_markers_are_refused_with_the_line(source, message):
    """A near-miss marker would otherwise ship its solution to students."""
    with pytest.raises(RegionError) as info:
        strip_code(source)
    assert str(info.value) == message


def test_markdown_region_becomes_the_visible_prompt_and_text_around_it_stays():
    source = "Intro.\n<!-- BEGIN SOLUTION -->\nThe answer is 42.\n<!-- END SOLUTION -->\nOutro."
    stripped = strip_markdown(source)
    assert stripped.source == f"Intro.\n{MANUAL_PROMPT}\nOutro."
    assert stripped.solutions == ("The answer is 42.",)


@pytest.mark.parametrize("source", [
    "<!-- BEGIN SOLUTION -->\nNo end.",
    "Answer\n<!-- END SOLUTION -->",
    "<!-- BEGIN SOLUTION  -->\nspaced\n<!-- END SOLUTION -->",
])
def test_unmatched_or_misspelt_markdown_markers_are_refused(source):
    with pytest.raises(RegionError, match="an unmatched or misspelt solution marker"):
        strip_markdown(source)

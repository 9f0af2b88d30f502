"""Every pack's example submissions get exactly the score and messages its examples/expected.toml documents."""
from __future__ import annotations


import pytest

from grader import grade_many, load_assignment, render_text
from grader.assignment import ASSIGNMENTS_DIR

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

PACKS = sorted(p.parent.parent.name for p in ASSIGNMENTS_DIR.glob("*/examples/expected.toml"))


def test_every_pack_with_examples_documents_them():
    assert "lstm_scalar" in PACKS
    for pack in PACKS:
        listed = {e["file"] for e in tomllib.loads((ASSIGNMENTS_DIR / pack / "examples" / "expected.toml").read_text())["example"]}
        on_disk = {p.name for p in (ASSIGNMENTS_DIR / pack / "examples").glob("*.ipynb")}
        assert listed == on_disk, pack
        assert "correct.ipynb" in listed and len(listed) >= 4, pack


@pytest.fixture(scope="module", params=PACKS)
def graded(request):
    assignment = load_assignment(request.param)
    examples = tomllib.loads((assignment.root / "examples" / "expected.toml").read_text(encoding="utf-8"))["example"]
    paths = [assignment.root / "examples" / e["file"] for e in examples]
    return assignment, list(zip(examples, grade_many(assignment, paths, jobs=2)))


def test_examples_get_their_documented_scores_losses_and_messages(graded):
    assignment, pairs = graded
    for example, report in pairs:
        text = render_text(report)
        assert report.grader_error == "", text
        assert report.score == pytest.approx(example["score"], abs=1e-6), text
        lost = sorted(q.name for q in report.questions if not q.manual and q.score < q.max_score - 1e-9)
        assert lost == sorted(example["lost"]), text
        for message in example["messages"]:
            assert message in text, f"{example['file']}: {message!r} not in\n{text}"


def test_the_correct_example_scores_full_marks(graded):
    assignment, pairs = graded
    correct = next(r for e, r in pairs if e["file"] == "correct.ipynb")
    assert correct.score == assignment.max_score


@pytest.mark.parametrize("pack", PACKS)
def test_the_correct_example_is_the_solution_without_its_markers(pack):
    """examples/correct.ipynb cannot drift from the instructor's solution.ipynb."""
    import nbformat

    def code(path):
        cells = nbformat.read(path, as_version=4).cells
        return ["\n".join(line for line in c.source.splitlines() if "### BEGIN SOLUTION" not in line
                          and "### END SOLUTION" not in line) for c in cells if c.cell_type == "code"]

    root = ASSIGNMENTS_DIR / pack
    assert code(root / "examples" / "correct.ipynb") == code(root / "solution.ipynb")

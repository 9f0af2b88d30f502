"""Notebooks in a real Jupyter kernel (nbclient), as students run them: the solution
top to bottom, and the student notebook with the answers filled in, ending in
check_all(). Run from an empty folder, so nothing can come from the pack's files."""
from __future__ import annotations

import json
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from grader.authoring import build_student_notebook, pack_dirs, public_tests, student_path
from grader.assignment import load_assignment

pytestmark = pytest.mark.slow
PACKS = pack_dirs()
KERNEL = "python3"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """The python3 kernel, registered for this interpreter in a scratch JUPYTER_PATH if
    the machine has none (CI images often do not)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PLATFORM_DIRS", "1")  # silences jupyter_core's migration warning
        try:
            KernelSpecManager().get_kernel_spec(KERNEL)
        except NoSuchKernel:
            root = tmp_path_factory.mktemp("jupyter")
            spec = root / "kernels" / KERNEL
            spec.mkdir(parents=True)
            (spec / "kernel.json").write_text(json.dumps({
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (lstm-autograder tests)", "language": "python"}), encoding="utf-8")
            mp.setenv("JUPYTER_PATH", str(root))
        yield KERNEL


def execute(nb, kernel, folder):
    NotebookClient(nb, kernel_name=kernel, timeout=60, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def displayed(cell, mime: str) -> str:
    return "\n".join(o.data[mime] for o in cell.outputs if o.output_type == "display_data" and mime in o.data)


def errors(nb) -> list:
    return [(c.id, o.ename, o.evalue) for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_the_student_notebook_as_shipped_runs_all_without_stopping_on_a_stub(pack, kernel, tmp_path):
    """Run All on the unanswered notebook: every demo cell guards itself, and check_all()
    answers with the coloured table (and its text) rather than an error."""
    nb = nbformat.read(student_path(load_assignment(pack)), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("check_all()", id="check-all"))
    execute(nb, kernel, tmp_path)
    assert errors(nb) == []
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip())
    text, markup = displayed(nb.cells[-1], "text/plain"), displayed(nb.cells[-1], "text/html")
    assert "public tests passed; failing:" in text and "not written yet" in text
    assert "not written yet" in markup and "<table" in markup


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_solution_notebook_runs_top_to_bottom_without_error(pack, kernel, tmp_path):
    nb = execute(nbformat.read(pack / "solution.ipynb", as_version=4), kernel, tmp_path)
    assert errors(nb) == []
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip())


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_student_notebook_with_the_answers_filled_in_runs_and_check_all_passes_in_the_kernel(pack, kernel, tmp_path):
    answers = {c.id: c.source for c in nbformat.read(pack / "solution.ipynb", as_version=4).cells}
    nb = build_student_notebook(pack)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    for cell in nb.cells:
        if cell.cell_type == "code" and cell is not setup:
            cell.source = answers[cell.id]
    nb.cells.append(nbformat.v4.new_code_cell("check_all()", id="check-all"))
    execute(nb, kernel, tmp_path)
    data = public_tests(load_assignment(pack))
    count = sum(len(c["cases"]) for q in data["questions"] if not q["manual"] for c in q["checks"])
    out = displayed(nb.cells[-1], "text/plain")  # in a kernel check_all() displays HTML with a text version
    assert stream_text(nb.cells[-1]) == ""
    assert f"\nAll {count} public tests passed.\n" in out, out
    assert f"All {count} public tests passed." in displayed(nb.cells[-1], "text/html")
    assert "FAIL" not in out

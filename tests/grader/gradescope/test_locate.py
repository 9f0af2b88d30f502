"""Which uploaded file gets graded, and what a student is told when none can be."""
from __future__ import annotations

import os

from grader.gradescope.locate import MAX_BYTES, find_submission

NB = "lstm_scalar.ipynb"
EXPECTED = f"Expected one Jupyter notebook, preferably named {NB}, or one .py file"


def upload(tmp_path, *names: str):
    folder = tmp_path / "submission"
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    folder.mkdir(exist_ok=True)
    return folder


def test_the_assignments_notebook_name_wins_over_other_notebooks(tmp_path):
    folder = upload(tmp_path, "draft.ipynb", NB, "scratch.py")
    assert find_submission(folder, NB).path == folder / NB


def test_the_assignments_name_is_found_inside_a_zipped_folder(tmp_path):
    folder = upload(tmp_path, "hw/draft.ipynb", f"hw/{NB}")
    assert find_submission(folder, NB).path == folder / "hw" / NB


def test_a_single_notebook_is_graded_whatever_its_name_and_checkpoints_are_ignored(tmp_path):
    folder = upload(tmp_path, "Alice Smith HW3.ipynb", ".ipynb_checkpoints/Alice Smith HW3-checkpoint.ipynb",
                    "__MACOSX/._Alice Smith HW3.ipynb", "report.pdf")
    assert find_submission(folder, NB).path == folder / "Alice Smith HW3.ipynb"


def test_a_single_py_file_is_graded_when_there_is_no_notebook(tmp_path):
    folder = upload(tmp_path, "answers.py", "README.md")
    assert find_submission(folder, NB).path == folder / "answers.py"


def test_nothing_gradable_lists_what_arrived(tmp_path):
    found = find_submission(upload(tmp_path, "report.pdf", "notes.txt"), NB)
    assert (found.path, found.problem) == (None, f"{EXPECTED}, but found only notes.txt, report.pdf.")


def test_an_empty_or_missing_upload_says_so(tmp_path):
    assert find_submission(upload(tmp_path), NB).problem == f"{EXPECTED}, but the submission was empty."
    assert find_submission(tmp_path / "nowhere", NB).problem == f"{EXPECTED}, but nothing was submitted."


def test_two_notebooks_are_ambiguous_and_both_are_named_with_the_way_out(tmp_path):
    found = find_submission(upload(tmp_path, "a.ipynb", "b/c.ipynb"), NB)
    assert found.problem == (f"{EXPECTED}, but found 2 notebooks: a.ipynb, b/c.ipynb. Submit only the one "
                             f"to be graded, or name the one to be graded {NB}.")


def test_two_copies_of_the_named_notebook_are_ambiguous(tmp_path):
    found = find_submission(upload(tmp_path, f"v1/{NB}", f"v2/{NB}"), NB)
    assert found.problem == (f"{EXPECTED}, but found 2 files named {NB}: v1/{NB}, v2/{NB}. "
                             "Submit only the one to be graded.")


def test_two_py_files_without_a_notebook_are_ambiguous(tmp_path):
    found = find_submission(upload(tmp_path, "a.py", "b.py"), "")
    assert found.problem == ("Expected one Jupyter notebook (.ipynb) or one .py file, but found no notebook "
                             "and 2 .py files: a.py, b.py. Submit only the one to be graded.")


def test_a_symbolic_link_is_never_followed_even_under_the_expected_name(tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text("answer = 42")
    folder = upload(tmp_path)
    os.symlink(secret, folder / NB)
    found = find_submission(folder, NB)
    assert (found.path, found.problem) == (
        None, f"{EXPECTED}, but the submission was empty. Ignored: {NB} (a symbolic link).")


def test_a_notebook_over_the_size_limit_is_refused_with_how_to_shrink_it(tmp_path):
    folder = upload(tmp_path)
    with open(folder / NB, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: no disk used
    found = find_submission(folder, NB)
    assert found.path is None
    assert found.problem.startswith(f"{NB} is 32.0 MB, over the 32 MB limit; it is probably full of plots.")

"""Find the one file to grade among whatever a student uploaded to Gradescope.

Students upload one notebook named anything, a zip of a whole folder, or their
notebook plus a PDF and a checkpoint copy. The rule, in order: the assignment's
own notebook name; else the only .ipynb; else the only .py. Anything else is
refused with a message that says what was expected and what arrived.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gradescope_utils.autograder_utils.files import check_submitted_files

# A notebook this large is almost all embedded images; parsing it could take
# a good part of the container's 768 MB before a line of it is graded.
MAX_BYTES = 32 << 20
MAX_ENTRIES = 5000           # a zip of someone's home folder is not a submission
SHOWN = 8                    # file names listed in a message


@dataclass(frozen=True)
class Found:
    path: Path | None
    problem: str = ""        # for the student, when path is None


def _listing(folder: Path) -> tuple[list[Path], list[str]]:
    """Regular files under ``folder`` (relative), and notes on what was skipped.

    Symbolic links are refused: the grader reads the file as root, and a link
    to /autograder/source would turn the grader's own code into "cells"."""
    files, skipped = [], []
    seen = 0
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(names):
            seen += 1
            if seen > MAX_ENTRIES:
                skipped.append(f"everything after the first {MAX_ENTRIES} files")
                return files, skipped
            if name.startswith("."):
                continue
            path = Path(top, name)
            mode = os.lstat(path).st_mode
            rel = path.relative_to(folder)
            if stat.S_ISLNK(mode):
                skipped.append(f"{rel} (a symbolic link)")
            elif stat.S_ISREG(mode):
                files.append(rel)
    return files, skipped


def _names(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def find_submission(folder: Path, notebook: str = "") -> Found:
    expected = (f"one Jupyter notebook, preferably named {notebook}, or one .py file" if notebook
                else "one Jupyter notebook (.ipynb) or one .py file")
    if not folder.is_dir():
        return Found(None, f"Expected {expected}, but nothing was submitted.")
    files, skipped = _listing(folder)
    note = f" Ignored: {'; '.join(skipped)}." if skipped else ""
    chosen = None
    # gradescope-utils' check is exactly "is this name at the top of the upload";
    # the lstat guards against it following a link.
    if notebook and not check_submitted_files([notebook], base=str(folder)) \
            and stat.S_ISREG(os.lstat(folder / notebook).st_mode):
        chosen = Path(notebook)
    named = [f for f in files if f.name == notebook]
    notebooks = [f for f in files if f.suffix.lower() == ".ipynb"]
    scripts = [f for f in files if f.suffix.lower() == ".py"]
    if chosen is None and len(named) == 1:
        chosen = named[0]
    elif chosen is None and len(named) > 1:
        return Found(None, f"Expected {expected}, but found {len(named)} files named {notebook}: "
                           f"{_names(named)}. Submit only the one to be graded.{note}")
    if chosen is None and len(notebooks) == 1:
        chosen = notebooks[0]
    elif chosen is None and len(notebooks) > 1:
        rename = f", or name the one to be graded {notebook}" if notebook else ""
        return Found(None, f"Expected {expected}, but found {len(notebooks)} notebooks: "
                           f"{_names(notebooks)}. Submit only the one to be graded{rename}.{note}")
    if chosen is None and not notebooks and len(scripts) == 1:
        chosen = scripts[0]
    elif chosen is None and len(scripts) > 1:
        return Found(None, f"Expected {expected}, but found no notebook and {len(scripts)} .py "
                           f"files: {_names(scripts)}. Submit only the one to be graded.{note}")
    if chosen is None:
        found = f"found only {_names(files)}" if files else "the submission was empty"
        return Found(None, f"Expected {expected}, but {found}.{note}")
    size = os.lstat(folder / chosen).st_size
    if size > MAX_BYTES:
        return Found(None, f"{chosen} is {size / 2**20:.1f} MB, over the {MAX_BYTES >> 20} MB limit; "
                           "it is probably full of plots. Clear all outputs in Jupyter (Edit > Clear "
                           "Outputs of All Cells), save, and submit again.")
    return Found(folder / chosen)

"""Build the Gradescope autograder zip of one assignment.

    python -m grader.gradescope.build lstm_scalar      (or: make autograder ASSIGNMENT=lstm_scalar)
    -> dist/lstm_scalar-autograder.zip

The zip holds setup.sh and run_autograder at its root, the grader and the
reference engine, the one assignment's folder, the pinned requirements, the
results.json schema and a manifest. Building loads the assignment first, so a
broken assignment fails here, on the instructor's machine, not on Gradescope.
Entries are sorted and time-stamped 1980-01-01, so the same tree always gives
the same bytes.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from ..assignment import AssignmentError, find_assignment, load_assignment
from .layout import BUDGET_SECONDS, MANIFEST, MEMORY_MB, SANDBOX_USER, SCHEMA, ManualQuestion, Manifest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).with_name("templates")
PACKAGES = ("grader", "reference")
ROOT_FILES = ("pyproject.toml", "requirements.txt")
SCHEMA_SOURCE = REPO / "tests" / "grader" / "gradescope" / SCHEMA
SCRIPTS = ("setup.sh", "run_autograder")
EPOCH = (1980, 1, 1, 0, 0, 0)
PLACEHOLDER = re.compile(r"@[A-Z_]+@")
# Expected values come from the reference engine, so grading never needs the
# instructor's solution or the example submissions; leaving them out means a
# permissions mistake in the container cannot leak them.
LEFT_OUT_OF_ASSIGNMENT = ("examples",)
LEFT_OUT_PREFIX = "solution"


def _shipped(path: Path, top: Path) -> bool:
    parts = path.relative_to(top).parts
    return not any(p.startswith(".") or p == "__pycache__" for p in parts) and path.suffix != ".pyc"


def collect(assignment_dir: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file on disk), sorted by name."""
    entries = [(name, REPO / name) for name in ROOT_FILES]
    entries.append((SCHEMA, SCHEMA_SOURCE))
    for package in PACKAGES:
        top = REPO / package
        entries += [(f"{package}/{p.relative_to(top).as_posix()}", p) for p in top.rglob("*")
                    if p.is_file() and _shipped(p, top)]
    for p in assignment_dir.rglob("*"):
        rel = p.relative_to(assignment_dir)
        if (p.is_file() and _shipped(p, assignment_dir) and rel.parts[0] not in LEFT_OUT_OF_ASSIGNMENT
                and not p.name.startswith(LEFT_OUT_PREFIX)):
            entries.append((f"assignments/{assignment_dir.name}/{rel.as_posix()}", p))
    return sorted(entries)


def _commit() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes), or "" without git."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+dirty" if dirty else "")


def manifest_for(name_or_path: str, *, sandbox_user: str = SANDBOX_USER,
                 budget_seconds: float = BUDGET_SECONDS, memory_mb: int = MEMORY_MB) -> Manifest:
    a = load_assignment(name_or_path)
    manual = tuple(ManualQuestion(q.id, q.title, q.points) for q in a.questions if q.kind == "manual")
    return Manifest(assignment=a.name, title=a.title, notebook=a.notebook, max_score=a.max_score,
                    manual=manual, sandbox_user=sandbox_user, budget_seconds=budget_seconds,
                    memory_mb=memory_mb, commit=_commit())


def _script(name: str, manifest: Manifest) -> bytes:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    text = text.replace("@ASSIGNMENT@", manifest.assignment).replace("@SANDBOX_USER@", manifest.sandbox_user)
    leftover = PLACEHOLDER.findall(text)
    if leftover:
        raise ValueError(f"{name}: unfilled placeholders {leftover}")
    return text.encode("utf-8")


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(name_or_path: str, out_dir: Path, **settings) -> Path:
    manifest = manifest_for(name_or_path, **settings)
    if not all(c.isalnum() or c in "-_" for c in manifest.sandbox_user):
        raise ValueError(f"sandbox user {manifest.sandbox_user!r}: letters, digits, - and _ only")
    assignment_dir = find_assignment(name_or_path).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest.assignment}-autograder.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for script in SCRIPTS:
            _add(zf, script, _script(script, manifest), 0o755)
        _add(zf, MANIFEST, manifest.to_json().encode("utf-8"), 0o644)
        for name, path in collect(assignment_dir):
            _add(zf, name, path.read_bytes(), 0o644)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope.build",
                                     description="Build the Gradescope autograder zip of an assignment.")
    parser.add_argument("assignment", help="an assignment name (see `lstm-grader list`) or its folder")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--sandbox-user", default=SANDBOX_USER,
                        help=f"the user student code runs as in the container (default: {SANDBOX_USER})")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, metavar="SECONDS",
                        help="wall time for grading one submission; keep it about two minutes under "
                             f"Gradescope's timeout (default: {BUDGET_SECONDS})")
    parser.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                        help=f"address-space limit of student code (default: {MEMORY_MB})")
    args = parser.parse_args(argv)
    try:
        target = build(args.assignment, args.out, sandbox_user=args.sandbox_user,
                       budget_seconds=args.budget, memory_mb=args.memory_mb)
    except (AssignmentError, ValueError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(target) as zf:
        count = len(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
    print(f"{target} ({target.stat().st_size / 1024:.0f} KB, {count} files)")
    by_hand = ", ".join(f"{m['id']} ({m['points']:g})" for m in manifest["manual"]) or "none"
    print(f"Points: {manifest['max_score']:g} autograded; graded by hand on Gradescope: {by_hand}.")
    print("Upload it on Gradescope: the assignment's Configure Autograder page, Zip file upload, "
          "Ubuntu 22.04 base image. See docs/gradescope.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

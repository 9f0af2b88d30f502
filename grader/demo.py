"""`make demo`: grade the example submissions bundled with every assignment and show the reports."""
from __future__ import annotations

import sys

from .assignment import ASSIGNMENTS_DIR, load_assignment
from .batch import collect, grade_many
from .report import render_text


def main() -> int:
    packs = sorted(d for d in ASSIGNMENTS_DIR.iterdir() if (d / "assignment.toml").is_file() and (d / "examples").is_dir())
    for pack in packs:
        assignment = load_assignment(pack.name)
        paths = collect([pack / "examples"])
        print(f"=== {assignment.name}: {assignment.title} — {len(paths)} example submissions ===\n")
        for report in grade_many(assignment, paths, jobs=2):
            print(render_text(report))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

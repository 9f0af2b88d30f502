"""python -m grader.authoring [--check] [PACK ...]: rebuild (or only check) student notebooks.

With no PACK, every folder under assignments/ that has a solution.ipynb. One
broken pack is reported and the others are still built; the exit status is
non-zero if any pack failed or, with --check, if any notebook is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..assignment import ASSIGNMENTS_DIR
from .build import AuthoringError, pack_dirs, stale_student_notebook, write_student_notebook


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.authoring", description=__doc__.split("\n")[0])
    parser.add_argument("packs", nargs="*", help="pack folders or names (default: every pack with a solution.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail listing the student notebooks that are out of date")
    args = parser.parse_args(argv)
    packs = [Path(p) if Path(p).is_dir() else ASSIGNMENTS_DIR / p for p in args.packs] or pack_dirs()
    if not packs:
        print(f"no packs with a solution.ipynb under {_shown(ASSIGNMENTS_DIR)}", file=sys.stderr)
        return 2
    failed = stale = 0
    for pack in packs:
        try:
            if args.check:
                path = stale_student_notebook(pack)
                if path is not None:
                    stale += 1
                    print(f"stale: {_shown(path)} (run `make assignments`)")
                continue
            path, changed = write_student_notebook(pack)
            print(f"{'wrote' if changed else 'unchanged'}: {_shown(path)}")
        except AuthoringError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
    if args.check and not stale and not failed:
        print(f"all {len(packs)} student notebook(s) are up to date")
    return 1 if failed or stale else 0


if __name__ == "__main__":
    sys.exit(main())

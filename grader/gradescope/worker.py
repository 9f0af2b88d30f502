"""The grading process: ``python -m grader.gradescope.worker ASSIGNMENT_DIR SUBMISSION OUT``.

Separate from the supervisor (run.py) so that whatever happens to grading
(the engine hangs in SymPy, the kernel kills it for memory, a bug crashes it)
the supervisor is still alive to say so in results.json. It writes the Report
and the peak memory of itself and of the sandbox children to OUT, nothing else;
its stdout and stderr are the instructors' log.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

from ..assignment import load_assignment
from ..grading import grade
from ..prestart import warm_up
from ..sandbox import Limits, RunAs, SandboxError, shutdown


def peak_rss() -> dict:
    """Peak resident memory in MB: this process, and the largest of its children:
    the sandbox's template and the children it forked (each reaped with wait4,
    so RUSAGE_CHILDREN covers them once the template has ended) and,
    only if setup.sh did not build it, the one-off matplotlib cache build."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"grader_mb": round(kb / 1024, 1), "sandbox_mb": round(child_kb / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope.worker")
    parser.add_argument("assignment", help="the assignment's folder")
    parser.add_argument("submission")
    parser.add_argument("out", help="where to write the report (JSON)")
    parser.add_argument("--run-as", metavar="UID:GID", help="run student code as this user")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_bytes >> 20)
    args = parser.parse_args(argv)
    run_as = RunAs(*map(int, args.run_as.split(":"))) if args.run_as else None
    limits = Limits(memory_bytes=args.memory_mb << 20, run_as=run_as)
    try:
        warm_up(Path(args.assignment), limits, wait=False)  # its imports overlap the assignment's
    except SandboxError:
        pass  # grading reports it, as a grader error in results.json
    report = grade(load_assignment(args.assignment), args.submission, limits)
    shutdown()  # the template and its children reaped: their peak memory is in RUSAGE_CHILDREN
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"report": report.to_dict(), "usage": peak_rss()}), encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: how fast the reference engine and the grader are on this machine.

Targets (from the issues), reported next to each measurement, never asserted in tests:
  - deriving every gradient of every shipped cell: reported cold (fresh process) and warm;
  - the full lstm_scalar assignment: under 1 s per submission once warm;
  - 200 submissions with --jobs 2: under 2 minutes.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DERIVE_ALL = """
import time
from reference.symbolic.cells import CELLS
from reference.symbolic.derive import unrolled

def derive_everything():
    t0 = time.perf_counter()
    for name in CELLS:
        for at in ("t", "T"):
            g = unrolled(name, at)
            for sym in list(g.order) + [s for m in g.params.values() for s in m]:
                g.adjoint(sym)
    return time.perf_counter() - t0

print(derive_everything(), derive_everything())
"""


def bench_derivations() -> None:
    out = subprocess.run([sys.executable, "-c", DERIVE_ALL], capture_output=True, text=True, check=True, cwd=ROOT)
    cold, warm = map(float, out.stdout.split())
    print(f"derive every gradient of the 6 cells at t and T: cold {cold:.2f} s (fresh process, imports excluded), "
          f"warm {warm * 1e3:.2f} ms")


def bench_one(repeats: int) -> None:
    from grader import grade, load_assignment

    assignment = load_assignment("lstm_scalar")
    path = assignment.root / "examples" / "correct.ipynb"
    t0 = time.perf_counter()
    grade(assignment, path)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = grade(assignment, path)
        times.append(time.perf_counter() - t0)
    assert report.score == assignment.max_score
    print(f"lstm_scalar, one submission, all checks: first {first:.2f} s, then median {statistics.median(times):.2f} s "
          f"over {repeats} (target < 1 s warm)")


def bench_batch(count: int, jobs: int) -> None:
    from grader import collect, grade_many, load_assignment

    assignment = load_assignment("lstm_scalar")
    examples = collect([assignment.root / "examples"])
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(count):
            shutil.copy(examples[k % len(examples)], Path(tmp) / f"student{k:03d}.ipynb")
        t0 = time.perf_counter()
        reports = grade_many(assignment, collect([tmp]), jobs=jobs)
        elapsed = time.perf_counter() - t0
    assert len(reports) == count and not any(r.grader_error for r in reports)
    print(f"{count} submissions (copies of the {len(examples)} examples), --jobs {jobs}: {elapsed:.1f} s, "
          f"{elapsed / count:.2f} s each (target: 200 in < 120 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench_derivations()
    bench_one(args.repeats)
    bench_batch(args.count, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

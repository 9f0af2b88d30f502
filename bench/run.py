"""`make bench`: how fast the grader is on this machine, against the targets of the speed issue.

Targets, reported next to each measurement and never asserted in tests:
  - `lstm-grader --help` / `list` / `--version`: ≤ 0.2 s;
  - one cold notebook (a fresh `lstm-grader grade` process, cases on disk): ≤ 1.5 s;
  - an lstm_scalar submission once warm: ≤ 0.1 s (median);
  - 200 submissions with --jobs 2 on 2 cores: ≤ 20 s;
  - peak memory per worker: ≤ 150 MB.
Derivations of every shipped cell are timed too (cold and warm).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADER = [sys.executable, "-m", "grader.cli"]

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


def _wall(cmd: list[str], env: dict | None = None, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_startup() -> None:
    for args in (["--help"], ["--version"], ["list"]):
        print(f"lstm-grader {' '.join(args)}: {_wall(GRADER + args):.2f} s (target ≤ 0.2 s)")


def bench_derivations() -> None:
    out = subprocess.run([sys.executable, "-c", DERIVE_ALL], capture_output=True, text=True, check=True, cwd=ROOT)
    cold, warm = map(float, out.stdout.split())
    print(f"derive every gradient of the 6 cells at t and T: cold {cold:.2f} s (fresh process, imports excluded), "
          f"warm {warm * 1e3:.2f} ms")


def bench_cold(cache: str) -> None:
    notebook = str(ROOT / "assignments" / "lstm_scalar" / "examples" / "correct.ipynb")
    env = dict(os.environ, LSTM_GRADER_CACHE=cache)
    first = _wall(GRADER + ["grade", "lstm_scalar", notebook, "--quiet"], env, repeats=1)
    again = _wall(GRADER + ["grade", "lstm_scalar", notebook, "--quiet"], env)
    print(f"one notebook in a fresh process: {first:.2f} s with an empty case cache, {again:.2f} s with the cases "
          "on disk (target ≤ 1.5 s)")


def bench_warm(repeats: int) -> float:
    from grader import grade, load_assignment

    assignment = load_assignment("lstm_scalar")
    path = assignment.root / "examples" / "correct.ipynb"
    grade(assignment, path)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = grade(assignment, path)
        times.append(time.perf_counter() - t0)
    assert report.score == assignment.max_score
    median = statistics.median(times)
    print(f"lstm_scalar, one submission once warm, all checks: median {median:.3f} s over {repeats} (target ≤ 0.1 s)")
    return median


def bench_batch(count: int, jobs: int) -> None:
    from grader import collect, grade_many, load_assignment

    assignment = load_assignment("lstm_scalar")
    examples = sorted((assignment.root / "examples").glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(count):
            shutil.copy(examples[k % len(examples)], Path(tmp) / f"student{k:03d}.ipynb")
        t0 = time.perf_counter()
        reports = grade_many(assignment, collect([tmp]), jobs=jobs)
        elapsed = time.perf_counter() - t0
    assert len(reports) == count and not any(r.grader_error for r in reports)
    print(f"{count} submissions (copies of the {len(examples)} examples), --jobs {jobs}: {elapsed:.1f} s, "
          f"{elapsed / count:.3f} s each (target: 200 in ≤ 20 s)")
    # ru_maxrss of the children is the largest of any one process: a worker or a student's child
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of the largest worker or student process: {peak:.0f} MB (target ≤ 150 MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench_startup()
    bench_derivations()
    with tempfile.TemporaryDirectory() as cache:
        bench_cold(cache)
    bench_warm(args.repeats)
    bench_batch(args.count, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

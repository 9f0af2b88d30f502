"""`make bench`: how fast the grader is on this machine, against the targets of the speed issue.

Targets, reported next to each measurement and never asserted in tests:
  - `lstm-grader --help` / `list` / `--version`: ≤ 0.2 s;
  - one cold notebook (a fresh `lstm-grader grade` process, cases on disk): ≤ 1.5 s;
  - an lstm_scalar submission once warm: ≤ 0.1 s (median);
  - 200 submissions with --jobs 2 on 2 cores: ≤ 20 s;
  - peak memory per worker: ≤ 150 MB;
  - per submission, ≥ 30× faster once warm than a fresh `otter run` grading the same kind of notebook
    (bench/otter/: q1–q5 of lstm_scalar, 10 plain numeric asserts), when Otter-Grader is installed
    (`make bench-otter` puts the `bench` extra in .venv-bench).
Derivations of every shipped cell are timed too (cold and warm).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
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
OTTER_DIR = ROOT / "bench" / "otter"
BENCH_VENV = ROOT / ".venv-bench"
OTTER_TARGET = 30.0
OTTER_ISSUE_SECONDS = 6.9  # issue 10: `otter run`, 5 questions, 10 plain numeric asserts, wall time

# Otter's own entry point for `otter run`, called repeatedly in one process: Otter once warm.
OTTER_WARM = """
import contextlib, io, json, sys, time
from otter.run import main

def once():
    with contextlib.redirect_stdout(io.StringIO()):
        return main(sys.argv[1], autograder=sys.argv[2], output_dir=None, no_logo=True)

results = once()
times = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    once()
    times.append(time.perf_counter() - t0)
print(json.dumps({"score": results.total, "possible": results.possible, "times": times}))
"""

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


def bench_cold(cache: str) -> float:
    notebook = str(ROOT / "assignments" / "lstm_scalar" / "examples" / "correct.ipynb")
    env = dict(os.environ, LSTM_GRADER_CACHE=cache)
    first = _wall(GRADER + ["grade", "lstm_scalar", notebook, "--quiet"], env, repeats=1)
    again = _wall(GRADER + ["grade", "lstm_scalar", notebook, "--quiet"], env)
    print(f"one notebook in a fresh process: {first:.2f} s with an empty case cache, {again:.2f} s with the cases "
          "on disk (target ≤ 1.5 s)")
    return again


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


def otter_python() -> str | None:
    """An interpreter with Otter-Grader: this one, else .venv-bench's (`make bench-otter`); None without."""
    try:
        importlib.metadata.version("otter-grader")
        return sys.executable
    except importlib.metadata.PackageNotFoundError:
        pass
    python = BENCH_VENV / "bin" / "python"
    probe = "import importlib.metadata as m; m.version('otter-grader'); import otter.run"
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return str(python)
    return None


def bench_otter(ours_cold: float, ours_warm: float, repeats: int) -> None:
    """`otter run` on bench/otter's notebook against our grader on lstm_scalar's, per submission."""
    python = otter_python()
    if python is None:
        print("otter run comparison: skipped, Otter-Grader is not installed (`make bench-otter` installs the "
              "`bench` extra into .venv-bench and runs it; `make bench` includes it from then on)")
        return
    script = Path(python).parent / "otter"
    otter = [str(script)] if script.exists() else [python, "-m", "otter"]
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('otter-grader'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    notebook = str(OTTER_DIR / "lstm_scalar_otter.ipynb")
    with tempfile.TemporaryDirectory() as tmp:
        autograder = str(Path(tmp) / "autograder.zip")
        # Otter's own zip of the test files; otter run ignores its set-up files (requirements, environment.yml)
        subprocess.run(otter + ["generate", "-t", "tests", "-o", autograder, "--no-config", "--no-requirements",
                                "--no-environment"], cwd=OTTER_DIR, capture_output=True, check=True)
        run = otter + ["run", "-a", autograder, "-o", tmp, "--no-logo", notebook]
        subprocess.run(run, cwd=tmp, capture_output=True, check=True)
        results = json.loads((Path(tmp) / "results.json").read_text(encoding="utf-8"))
        score = sum(t.get("score") or 0 for t in results["tests"])
        possible = sum(t.get("max_score") or 0 for t in results["tests"])
        cold = _wall(run, repeats=3)
        out = subprocess.run([python, "-c", OTTER_WARM, notebook, autograder, str(repeats)], cwd=tmp,
                             capture_output=True, text=True, check=True)
    warm = json.loads(out.stdout.splitlines()[-1])
    warm_median = statistics.median(warm["times"])
    assert score == possible == warm["score"] == warm["possible"] > 0, (score, possible, warm)
    print(f"otter run (Otter-Grader {version}) on bench/otter's notebook, q1–q5 of lstm_scalar with 10 numeric "
          f"asserts, {score:g}/{possible:g}: {cold:.2f} s in a fresh process (median of 3; issue 10 measured "
          f"{OTTER_ISSUE_SECONDS} s), {warm_median:.2f} s once warm (otter.run.main in one process, median of "
          f"{repeats})")
    print(f"ours on lstm_scalar's correct notebook, its 14 auto-graded questions with every check: "
          f"{ours_cold:.2f} s in a fresh process, {ours_warm:.3f} s once warm")
    ratio = cold / ours_warm
    print(f"otter ÷ ours per submission: `otter run` vs ours warm {ratio:.0f}× (target ≥ {OTTER_TARGET:.0f}×: "
          f"{'met' if ratio >= OTTER_TARGET else 'NOT met'}), fresh vs fresh {cold / ours_cold:.1f}×, "
          f"warm vs warm {warm_median / ours_warm:.0f}×")


SECTIONS = ("startup", "derive", "cold", "warm", "batch", "otter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=SECTIONS, action="append",
                        help="run only this section (repeatable); otter also times our cold and warm grading")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    if "otter" in only:
        only |= {"cold", "warm"}
    if "startup" in only:
        bench_startup()
    if "derive" in only:
        bench_derivations()
    if "cold" in only:
        with tempfile.TemporaryDirectory() as cache:
            cold = bench_cold(cache)
    if "warm" in only:
        warm = bench_warm(args.repeats)
    if "batch" in only:
        bench_batch(args.count, args.jobs)
    if "otter" in only:
        bench_otter(cold, warm, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

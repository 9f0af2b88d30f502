"""`python -m grader.warm` leaves every case on disk: a later process computes none."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FROM_DISK_ONLY = """
import sys
from grader import problems
def refuse(*args, **kwargs):
    raise SystemExit("a case was computed instead of loaded")
problems.ExpressionProblem._build = problems.TaskProblem._build = refuse
for task in problems.TASKS.values():
    task.finite_difference = refuse
from grader.warm import warm
print(warm(sys.argv[1]))
"""


def test_warm_stores_every_case_a_later_process_only_loads(tmp_path):
    env = dict(os.environ, LSTM_GRADER_CACHE=str(tmp_path))
    first = subprocess.run([sys.executable, "-m", "grader.warm", "lstm_scalar"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("lstm_scalar: 1258 cases ready")
    again = subprocess.run([sys.executable, "-c", FROM_DISK_ONLY, "lstm_scalar"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "1258"


def test_warm_without_an_assignment_says_how_to_call_it():
    done = subprocess.run([sys.executable, "-m", "grader.warm"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == "usage: python -m grader.warm ASSIGNMENT..."

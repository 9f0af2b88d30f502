"""`make security`: grade every attack of tests/fixtures/hostile/ with each
isolation layer alone, with the audit hook alone, and with everything, and
print which layers stop it.

    python -m grader.sandbox.security_table [ATTACK ...]

An attack is *held* by a configuration when its report keeps the expected
score (its ``# score:`` header), leaks nothing into the report and leaves no
file, killed process or survivor behind. Exit status 1 if any attack is not
held with every layer up.

`make security` then prints a second table, from the tests that grade the
corpus outside the test process (tests/grader/test_hostile_batch.py, the CLI
as an unprivileged user; tests/grader/gradescope/test_hostile_corpus.py, the
Gradescope stand-in, every attack with LSTM_HOSTILE_FULL=1).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import isolation
from .runner import Limits

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "hostile"
BASE = dict(call_timeout=1.0, cell_timeout=1.0, grace=0.5, memory_bytes=1 << 30)


def _configs(probed: isolation.Isolation) -> dict[str, Limits]:
    configs = {"all": Limits(**BASE)}
    for layer in isolation.WALLS:
        if probed.has(layer):
            configs[layer] = Limits(**BASE, layers=(layer,))
    configs["hook"] = Limits(**BASE, layers=(), unsafe_no_isolation=True)
    return configs


def _held(name: str, limits: Limits, assignment) -> tuple[bool, float]:
    from grader import grade, load_submission

    lines = (CORPUS / f"{name}.py").read_text().splitlines()
    expected = float(lines[1].removeprefix("# score: "))
    top = Path(tempfile.mkdtemp(prefix="lstm-security-"))
    outside = top / "outside"
    outside.mkdir()
    (outside / "classmate.ipynb").write_text('{"answers": 1}')
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    token = os.urandom(6).hex()
    secret = "SECRET" + os.urandom(6).hex()
    os.environ["LSTM_HOSTILE_TOKEN"] = secret
    values = {"__SOLUTION__": str(assignment.root / "solution.ipynb"),
              "__GRADER_FILE__": str(ROOT / "grader" / "sandbox" / "runner.py"),
              "__GRADER_DIR__": str(ROOT / "grader"), "__OUTSIDE__": str(outside),
              "__VICTIM__": str(victim.pid), "__TOKEN__": token}
    attack = (CORPUS / f"{name}.py").read_text()
    for key, value in values.items():
        attack = attack.replace(key, value)
    base = load_submission(assignment.root / "examples" / "correct.ipynb")
    path = top / "submission.py"
    path.write_text("".join(f"# %%\n{src}\n" for src in [*(c.source for c in base.cells), attack]))
    try:
        report = grade(assignment, path, limits)
        time.sleep(2.0 if name.startswith("daemon") else 0.2)
        text = report.to_json()
        traces = [p for p in outside.iterdir() if p.name != "classmate.ipynb"]
        traces += list((ROOT / "grader").glob(f"pwned_{token}*"))
        traces += [p for p in (Path(f"/tmp/lstm-pwned-{token}"),) if p.exists()]
        held = (victim.poll() is None and not traces and report.grader_error == ""
                and report.score == expected and "RuntimeError: LEAK:" not in text
                and secret not in text)
        return held, report.score
    finally:
        for p in (ROOT / "grader").glob(f"pwned_{token}*"):
            p.unlink()
        Path(f"/tmp/lstm-pwned-{token}").unlink(missing_ok=True)   # a file: rmtree would leave it
        victim.kill()
        victim.wait()
        shutil.rmtree(top, ignore_errors=True)


def main(argv: list[str]) -> int:
    from grader import load_assignment

    probed = isolation.probe()
    print(probed.summary())
    assignment = load_assignment("lstm_scalar")
    configs = _configs(probed)
    names = argv or sorted(p.stem for p in CORPUS.glob("*.py"))
    width = max(len(n) for n in names)
    print(f"{'attack':<{width}}  {'stopped by (alone)':<34}  {'score':>5}  verdict")
    failures = 0
    for name in names:
        results = {label: _held(name, limits, assignment) for label, limits in configs.items()}
        held_all, score = results.pop("all")
        stoppers = [label for label, (held, _) in results.items() if held]
        failures += not held_all
        print(f"{name:<{width}}  {', '.join(stoppers) or '-':<34}  {score:>5g}  "
              f"{'held' if held_all else 'BREACHED'}", flush=True)
    print(f"{len(names) - failures} held, {failures} breached")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

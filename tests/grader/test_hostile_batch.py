"""A batch survives anything: every attack of the hostile corpus graded in one
batch, two workers, gives a complete gradebook with each attack's own score."""
from __future__ import annotations

import csv
import os
import subprocess
import time
from pathlib import Path

import pytest

from grader import load_submission
from grader.batch import grade_many, write_gradebook
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "hostile"
FAST = Limits(call_timeout=1.0, cell_timeout=1.0, grace=0.5, memory_bytes=1 << 30)


def _expected_score(path: Path) -> float:
    return float(path.read_text().splitlines()[1].removeprefix("# score: "))


@pytest.mark.slow
def test_a_batch_of_every_attack_gives_one_scored_row_per_file(scalar, tmp_path, monkeypatch):
    token = os.urandom(6).hex()
    victim = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        outside = tmp_path / "outside"
        outside.mkdir()
        monkeypatch.setenv("LSTM_HOSTILE_TOKEN", "SECRET" + os.urandom(6).hex())
        # The placeholders of the corpus, as tests/grader/sandbox/test_isolation_layers.py fills them.
        arena = {"__SOLUTION__": str(ROOT / "assignments" / "lstm_scalar" / "solution.ipynb"),
                 "__GRADER_FILE__": str(ROOT / "grader" / "sandbox" / "runner.py"),
                 "__GRADER_DIR__": str(ROOT / "grader"), "__OUTSIDE__": str(outside),
                 "__VICTIM__": str(victim.pid), "__TOKEN__": token}
        correct = [c.source for c in load_submission(scalar.root / "examples" / "correct.ipynb").cells]
        folder = tmp_path / "submissions"
        folder.mkdir()
        attacks = sorted(CORPUS.glob("*.py"))
        paths = []
        for attack in attacks:
            text = attack.read_text()
            for key, value in arena.items():
                text = text.replace(key, value)
            path = folder / attack.name
            path.write_text("".join(f"# %%\n{src}\n" for src in [*correct, text]), encoding="utf-8")
            paths.append(path)

        start = time.monotonic()
        reports = grade_many(scalar, paths, jobs=2, limits=FAST)
        elapsed = time.monotonic() - start
        gradebook = tmp_path / "gradebook.csv"
        write_gradebook(reports, scalar, gradebook)
        victim_alive = victim.poll() is None
    finally:
        victim.kill()
        victim.wait()
        for stray in (ROOT / "grader").glob(f"pwned_{token}*"):
            stray.unlink()

    assert [r.submission for r in reports] == [a.name for a in attacks]
    assert {r.submission: r.grader_error for r in reports if r.grader_error} == {}
    assert {r.submission: r.score for r in reports} == {a.name: _expected_score(a) for a in attacks}
    with open(gradebook, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["submission"] for row in rows] == [a.name for a in attacks]
    assert [float(row["score"]) for row in rows] == [_expected_score(a) for a in attacks]
    assert all(not row["notes"].startswith("GRADER ERROR") for row in rows)
    assert victim_alive
    assert elapsed < 150

"""The hostile corpus through the Gradescope stand-in: each attack of
tests/fixtures/hostile/ submitted as a .py file and graded by run_autograder,
as Gradescope runs it (as root, student code as a throwaway sandbox user).

`make test` runs one attack per class (``# class:`` in the header): the first
of each class in name order, a rule that knows nothing of how hard or slow an
attack is. The whole corpus (about 2 minutes on 2 cores) runs in `make
security`, which sets LSTM_HOSTILE_FULL=1 and prints a table of the runs.

Each run must give the attack exactly its ``# score:`` in a results.json that
passes the schema, with no grader error, nothing it read or printed in
results.json or in the instructors' log, no effect left (a file written
outside, into the container's grader source or into /tmp, the grader's victim
process killed, a process of the sandbox user alive, anything next to
results.json), and a grading process (the worker, which grades this one file)
whose peak resident memory stays under 500 MB.
"""
from __future__ import annotations

import json
import os
import pwd
import queue
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from grader import load_assignment, load_submission

from ..corpus import Arena, attacks, record, representatives
from .conftest import leftovers, schema_errors, world_dir

FULL = os.environ.get("LSTM_HOSTILE_FULL") == "1"
ATTACKS = attacks()
SELECTED = ATTACKS if FULL else representatives(ATTACKS)
RSS_LIMIT_MB = 500
# An attack of the spawn class may act after its process was started (the
# daemon writes 1.5 s later): its traces are looked for this long after the run.
LATE_SECONDS = 2.0


@dataclass
class Outcome:
    doc: dict
    problems: list[str]      # leaks and traces: each a sentence; none when the attack was held
    left: list[int]          # processes of the sandbox user alive after run_autograder
    results: list[str]       # what is in /autograder/results
    seconds: float


@pytest.fixture(scope="module")
def corpus_runs(containers, sandbox_users):
    """run_autograder on every selected attack, as many at a time as there are
    sandbox users, each run with a user and a container of its own."""
    containers.unpacked("lstm_scalar")  # built once here, not raced by the threads
    scalar = load_assignment("lstm_scalar")
    correct = [c.source for c in load_submission(scalar.root / "examples" / "correct.ipynb").cells]
    free: queue.Queue = queue.Queue()
    for user in sandbox_users:
        free.put(user)

    def run(attack) -> Outcome:
        user = free.get()
        outside = world_dir("lstmgs-outside-")
        victim = subprocess.Popen(["sleep", "600"], start_new_session=True)  # a process of the grader's user
        arena = None
        try:
            if user is not None:   # the sandbox user could write here, were it not for the sandbox
                entry = pwd.getpwnam(user)
                os.chown(outside, entry.pw_uid, entry.pw_gid)
                subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups", "touch",
                                str(outside / "reach")], check=True)
                (outside / "reach").unlink()
            box = containers.make("lstm_scalar", user)
            arena = Arena(outside=outside, grader_dir=box.source / "grader",
                          grader_file=box.source / "grader" / "sandbox" / "runner.py",
                          solution=box.source / "assignments" / "lstm_scalar" / "assignment.toml",
                          victim=victim)
            box.submit(f"{attack.name}.py", arena.submission(attack, correct).encode())
            start = time.monotonic()
            done = box.run(timeout=300, LSTM_HOSTILE_TOKEN=arena.secret)
            seconds = time.monotonic() - start
            if attack.kind == "spawn":
                time.sleep(LATE_SECONDS)
            problems = arena.leaks(json.dumps(done.doc, ensure_ascii=False), "results.json")
            problems += arena.leaks(done.stdout, "log") + arena.traces()
            outcome = Outcome(done.doc, problems, leftovers(user), sorted(os.listdir(box.root / "results")),
                              seconds)
            usage = done.doc.get("extra_data", {}).get("usage", {})
            record(attack.name, "stand-in", done.doc.get("score"),
                   _failures(attack, outcome), f" (grader {usage.get('grader_mb', '?')} MB, {seconds:.0f} s)")
            return outcome
        finally:
            victim.kill()
            victim.wait()
            if arena is not None:
                arena.clean()
            shutil.rmtree(outside, ignore_errors=True)
            free.put(user)

    with ThreadPoolExecutor(max_workers=len(sandbox_users)) as pool:
        yield {a.name: pool.submit(run, a) for a in SELECTED}


def _failures(attack, out: Outcome) -> list[str]:
    """Everything wrong with one run, as sentences: its verdict in `make security`'s table."""
    doc, extra = out.doc, out.doc.get("extra_data", {})
    usage = extra.get("usage", {})
    found = [f"schema: {e}" for e in schema_errors(doc)]
    if doc.get("score") != attack.score:
        found.append(f"score {doc.get('score')}, not {attack.score:g}")
    if extra.get("error") != "":
        found.append(f"error {extra.get('error')!r}: {extra.get('detail', '')[:300]}")
    found += out.problems
    found += [f"processes of the sandbox user left: {out.left}"] if out.left else []
    found += [f"results/ holds {out.results}"] if out.results != ["results.json"] else []
    for key in ("grader_mb", "supervisor_mb"):
        if not usage.get(key, RSS_LIMIT_MB) < RSS_LIMIT_MB:
            found.append(f"{key} {usage.get(key, 'not reported')}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("attack", SELECTED, ids=[a.name for a in SELECTED])
def test_run_autograder_gives_each_attack_its_exact_score_and_lets_it_have_no_effect(corpus_runs, attack):
    """One attack through run_autograder: the checks of the module's docstring."""
    out = corpus_runs[attack.name].result()
    usage = out.doc["extra_data"].get("usage", {})
    assert schema_errors(out.doc) == []
    assert (out.doc["score"], out.doc["extra_data"]["error"]) == (attack.score, ""), out.doc["extra_data"]
    assert out.problems == []
    assert out.left == []
    assert out.results == ["results.json"]
    assert usage["grader_mb"] < RSS_LIMIT_MB and usage["supervisor_mb"] < RSS_LIMIT_MB, usage

"""The grader itself run as an unprivileged user on the whole hostile corpus.

One ``python -m grader.cli grade lstm_scalar FOLDER --jobs 2 --json FILE``
(what ``lstm-grader grade`` runs, with its default limits) over every file of
tests/fixtures/hostile/, as a throwaway user made for the test when the tests
run as root (as the current user otherwise), from a copy of the grader that
user owns. So the grader's files, the folder outside, the victim process and
the grader's own environment are all within reach of the user the student code
runs as (the grader is not root, so there is no uid to switch to): only the
sandbox's namespaces, Landlock, seccomp and rlimits stand in the way.

(This replaces the batch that ran as root with grade_many: the CLI batch
covers what it proved, one scored gradebook row per attack, and the corpus
graded as root is tests/grader/sandbox/test_isolation_layers.py.)
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import subprocess
import threading
import time
from pathlib import Path

from grader import load_assignment, load_submission
from grader.gradescope.privileges import processes_of

from .conftest import world_dir
from .corpus import NOTES, Arena, attacks, record

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = attacks()
RSS_LIMIT_MB = 500


class GraderPeaks(threading.Thread):
    """The peak resident memory (VmHWM, kB) of the grading processes started as
    ``top``: the CLI itself, and its multiprocessing processes (the resource
    tracker, the forkserver and the forkserver's children, the workers), not
    the sandbox children the workers start. Polled every 0.1 s until stop(); a
    high-water mark only grows, so a poll misses at most what a process adds
    in its last 0.1 s."""

    def __init__(self, top: int):
        super().__init__(daemon=True)
        self.top = top
        self.peak_kb: dict[int, int] = {}
        self.role: dict[int, str] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()

    def poll(self) -> None:
        parent = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(f"/proc/{entry.name}/stat").read_text()
                except OSError:
                    continue
                parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        for pid, up in parent.items():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if pid == self.top:
                role = "cli"
            elif up == self.top and "multiprocessing" in command:
                role = "forkserver" if "forkserver" in command else "resource tracker"
            elif self.role.get(up) == "forkserver":
                role = "worker"
            else:
                continue   # a sandbox child, or a worker's fork on its way to exec bwrap
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))
                    self.role[pid] = role


def _user_owned(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def test_the_whole_corpus_graded_by_the_cli_as_an_unprivileged_user_keeps_every_score_and_has_no_effect(
        sandbox_user, sandbox_python):
    """Every attack gets exactly its ``# score:``, no grader error, and nothing
    it read or printed shows in the output, the JSON or the gradebook; no file
    was written (outside, into the grader's folder, into /tmp), the victim (a
    process of the grader's user) is alive, and (as root, where the user is
    the test's own) no process of that user is left but the victim. The
    grader's own processes (the CLI, each worker of --jobs 2) stay under
    500 MB resident at their peak, every file having been graded in one of them.
    The control, checked first: that user can write the folder outside and the
    grader's folder, signal the victim and read its environment and the
    solution, so whatever stops the attacks is the sandbox."""
    user = sandbox_user
    top = world_dir("lstm-hostile-as-user-")
    victim = arena = None
    try:
        tree = top / "tree"
        for part in ("grader", "reference", "assignments"):
            shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("outside", "submissions", "out", "cache", "home"):
            (top / name).mkdir()
        ids = {}
        if user is not None:
            entry = pwd.getpwnam(user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        victim = subprocess.Popen(["sleep", "600"], start_new_session=True, **ids)
        arena = Arena(outside=top / "outside", grader_dir=tree / "grader",
                      grader_file=tree / "grader" / "sandbox" / "runner.py",
                      solution=tree / "assignments" / "lstm_scalar" / "solution.ipynb", victim=victim)
        scalar = load_assignment("lstm_scalar")
        correct = [c.source for c in load_submission(scalar.root / "examples" / "correct.ipynb").cells]
        for attack in ATTACKS:
            (top / "submissions" / f"{attack.name}.py").write_text(arena.submission(attack, correct),
                                                                    encoding="utf-8")
        _user_owned(top, user)
        as_user = ["setpriv", "--reuid", user, "--regid", user, "--clear-groups"] if user else []
        # The control: without the sandbox, that user reaches all the attacks aim at.
        reach = subprocess.run([*as_user, "sh", "-c", 'touch "$1/reach" "$2/pwned_$3" && kill -0 "$4" && '
                                'head -c1 "/proc/$4/environ" "$5" >/dev/null', "sh", arena.outside,
                                arena.grader_dir, arena.token, str(victim.pid), arena.solution],
                               capture_output=True, text=True)
        assert reach.returncode == 0, reach.stderr
        (arena.outside / "reach").unlink()
        arena.clean()
        out = top / "out" / "reports.json"
        command = [*as_user, sandbox_python, "-m", "grader.cli", "grade", "lstm_scalar",
                   str(top / "submissions"), "--jobs", "2", "--json", str(out)]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(top / "home"), "LANG": "C.UTF-8",
               "PYTHONPATH": str(tree), "LSTM_GRADER_CACHE": str(top / "cache"),
               "LSTM_HOSTILE_TOKEN": arena.secret}
        start = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=top / "out")
        peaks = GraderPeaks(proc.pid)
        peaks.start()
        try:
            stdout, stderr = proc.communicate(timeout=400)
        finally:
            peaks.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        elapsed = time.monotonic() - start
        traces = arena.traces()   # the daemon's late write (1.5 s) is long due: it is graded among the first
        left = sorted(set(processes_of(pwd.getpwnam(user).pw_uid)) - {victim.pid}) if user else []
        gradebook = (top / "submissions" / "gradebook.csv").read_text(encoding="utf-8")
        doc_text = out.read_text(encoding="utf-8")
    finally:
        if victim is not None:
            victim.kill()
            victim.wait()
        if arena is not None:
            arena.clean()
        shutil.rmtree(top, ignore_errors=True)

    assert proc.returncode == 0, stderr[-3000:]
    reports = json.loads(doc_text)["reports"]
    assert [r["submission"] for r in reports] == [f"{a.name}.py" for a in ATTACKS]
    problems = {}
    for attack, report in zip(ATTACKS, reports):
        found = [f"score {report['score']:g}, not {attack.score:g}"] if report["score"] != attack.score else []
        found += [f"grader error: {report['grader_error']}"] if report["grader_error"] else []
        found += arena.leaks(json.dumps(report, ensure_ascii=False), "report")
        record(attack.name, "as user", report["score"], found)
        if found:
            problems[attack.name] = found
    measured = sorted((peaks.role[pid], round(kb / 1024, 1)) for pid, kb in peaks.peak_kb.items())
    peak_mb = max(mb for _, mb in measured)
    whole = arena.leaks(stdout + stderr, "output") + arena.leaks(gradebook, "gradebook") + traces
    whole += [f"processes of the user left: {left}"] if left else []
    whole += [f"a grading process peaked at {peak_mb} MB"] if peak_mb >= RSS_LIMIT_MB else []
    record("(the batch as a whole)", "as user", None, whole, f" (grader peak {peak_mb} MB, {elapsed:.0f} s)")
    NOTES.append(f"CLI batch as {user or 'this user'}: {json.loads(doc_text)['isolation']}; "
                 f"peak resident memory (MB): {measured}")

    assert problems == {}
    assert arena.leaks(stdout + stderr, "output") + arena.leaks(gradebook, "gradebook") == []
    assert traces == []
    assert left == []
    with_scores = [(row["submission"], float(row["score"]), row["notes"].startswith("GRADER ERROR"))
                   for row in csv.DictReader(gradebook.splitlines())]
    assert with_scores == [(f"{a.name}.py", a.score, False) for a in ATTACKS]
    # Every grading process was seen: the CLI, its forkserver and the two workers of --jobs 2.
    assert sorted(peaks.role.values()).count("worker") == 2, measured
    assert {"cli", "forkserver"} <= set(peaks.role.values()), measured
    assert peak_mb < RSS_LIMIT_MB, measured
    assert elapsed < 240, f"{elapsed:.0f} s"

"""The in-container supervisor, started by run_autograder through launch.py.

    secure the tree ─▶ find the notebook ─▶ worker process grades it (as root;
    its sandbox child runs student code as the sandbox user) ─▶ kill whatever
    that user left running ─▶ render ─▶ validate ─▶ write results.json once

Every path ends in exactly one write of a results.json that passed the
schema: a report, "no notebook found" (the student's to fix), or a grader
error (ours, flagged as such). Its stdout is Gradescope's instructor-only log.

``--self-check`` (run by setup.sh) proves the separation on the built image:
student code really runs as the sandbox user and cannot enter the source.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..report import Report, render_text
from . import results
from .layout import Manifest, Paths
from .locate import find_submission
from .privileges import Identity, PrivilegeError, reap, sandbox_identity, secure

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL = 3000


@dataclass(frozen=True)
class Outcome:
    report: Report | None
    usage: dict
    kind: str = ""       # "grader_error" or "timeout" when report is None
    detail: str = ""


def _settings(manifest: Manifest) -> tuple[str, float]:
    """Sandbox user and time budget; the environment overrides the manifest
    so that tests can use a throwaway user and a short budget."""
    user = os.environ.get("AUTOGRADER_SANDBOX_USER", manifest.sandbox_user)
    budget = float(os.environ.get("AUTOGRADER_BUDGET") or manifest.budget_seconds)
    return user, budget


def _ending(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    if returncode == -signal.SIGKILL:
        return "was killed (SIGKILL; most often the container ran out of memory)"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def run_worker(manifest: Manifest, paths: Paths, submission: Path, identity: Identity | None,
               budget: float) -> Outcome:
    private = Path(tempfile.mkdtemp(prefix="lstm-grader-"))  # 0700: root's alone
    out, log = private / "report.json", private / "worker.log"
    cmd = [sys.executable, "-s", "-m", "grader.gradescope.worker",
           str(paths.source / "assignments" / manifest.assignment), str(submission), str(out),
           "--memory-mb", str(manifest.memory_mb)]
    if identity is not None:
        cmd += ["--run-as", f"{identity.uid}:{identity.gid}"]
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    try:
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                    cwd=private, env=env, start_new_session=True)
            try:
                proc.wait(timeout=budget)
                timed_out = False
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:  # it ended just now, but too late all the same
                    pass
                proc.wait()
                timed_out = True
        text = log.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            print("--- grading process output ---\n" + text.rstrip() + "\n---")
        if timed_out:
            return Outcome(None, {}, "timeout", f"the grading process did not finish within {budget:g} s "
                                                "and was killed")
        if proc.returncode != 0 or not out.is_file():
            return Outcome(None, {}, "grader_error", f"the grading process {_ending(proc.returncode)}: "
                                                     f"{text.strip()[-LOG_TAIL:]}")
        data = json.loads(out.read_text(encoding="utf-8"))
        return Outcome(Report.from_dict(data["report"]), data.get("usage", {}))
    finally:
        shutil.rmtree(private, ignore_errors=True)


def grade_upload(paths: Paths, manifest: Manifest, started: float) -> dict:
    user, budget = _settings(manifest)
    identity = sandbox_identity(user)
    secure(paths)
    print(f"student code runs as {'uid %d' % identity.uid if identity else 'this user (not root)'}")
    found = find_submission(paths.submission, manifest.notebook)
    if found.path is None:
        print(f"no gradable file: {found.problem}")
        return results.no_submission(found.problem, manifest, time.monotonic() - started)
    print(f"grading {found.path}")
    try:
        outcome = run_worker(manifest, paths, found.path, identity, budget)
    finally:
        if identity is not None:
            left = reap(identity.uid)
            if left:
                print(f"killed processes left by student code: {left}")
    seconds = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    usage = dict(outcome.usage, supervisor_mb=round(own / 1024, 1))
    if outcome.report is None:
        return results.grader_error(outcome.detail, manifest, seconds, outcome.kind, usage)
    print(render_text(outcome.report))
    print(f"{seconds:.1f} s; peak memory (MB): {usage}")
    return results.render(outcome.report, manifest, seconds, usage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch.py", description="Grade /autograder/submission.")
    parser.add_argument("--self-check", action="store_true", help="check the sandbox user's isolation")
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    if args.self_check:
        return self_check(paths)
    started = time.monotonic()
    manifest = None
    try:
        manifest = Manifest.load(paths.source / "gradescope.json")
        doc = grade_upload(paths, manifest, started)
    except Exception:  # noqa: BLE001 - any failure here is ours and must still produce results
        detail = traceback.format_exc()
        print(detail)
        doc = results.grader_error(detail.strip().splitlines()[-1], manifest,
                                   time.monotonic() - started)
    finish(doc, paths)
    return 0


def finish(doc: dict, paths: Paths) -> None:
    """Validate, fall back to a grader-error document if that fails, write once."""
    try:
        schema = results.load_schema(PACKAGE_ROOT)
        wrong = results.problems(doc, schema)
        if wrong:
            print("results.json failed validation:\n  " + "\n  ".join(wrong))
            doc = results.grader_error("the rendered results failed validation: " + "; ".join(wrong[:5]),
                                       None, doc.get("execution_time", 0.0))
            if results.problems(doc, schema):
                doc = results.MINIMAL
    except Exception:  # noqa: BLE001 - no schema, no validator: still leave a result behind
        print(traceback.format_exc())
        doc = results.MINIMAL
    results.write_once(doc, paths.results_json)
    print(f"wrote {paths.results_json}: score {doc.get('score')}")


PROBE = '''
import os
import numpy, sympy

def probe(source):
    seen = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
    for what, attempt in (("list", lambda: os.listdir(source)),
                          ("stat", lambda: os.stat(os.path.join(source, "gradescope.json")))):
        try:
            attempt()
            seen[what] = "allowed"
        except (PermissionError, FileNotFoundError):
            # FileNotFoundError: inside the sandbox's mount namespace the source is not even there
            seen[what] = "denied"
    return seen
'''


def self_check(paths: Paths) -> int:
    """Exit status 0 only if code in the sandbox runs as the sandbox user, with
    no extra groups, and the kernel (not the audit hook: nothing is marked
    protected here) keeps it out of the source folder."""
    from ..sandbox import Limits, Sandbox, SandboxError
    from ..sandbox import RunAs
    from ..source import CodeCell

    manifest = Manifest.load(paths.source / "gradescope.json")
    user, _ = _settings(manifest)
    try:
        identity = sandbox_identity(user)
    except PrivilegeError as exc:
        print(f"self-check FAILED: {exc}")
        return 1
    if identity is None:
        print("self-check skipped: not running as root, so there is no other user to run as")
        return 0
    secure(paths)
    limits = Limits(run_as=RunAs(*identity), memory_bytes=manifest.memory_mb << 20)
    try:
        with Sandbox([CodeCell(1, PROBE)], limits=limits) as box:
            result = box.call("probe", [str(paths.source)])
    except SandboxError as exc:
        print(f"self-check FAILED: student code cannot run as {user}: {exc}. That user must be able to "
              f"execute {sys.executable}: every folder above it, and above what it links to, must be "
              "enterable by all users.")
        return 1
    finally:
        reap(identity.uid)
    expected = {"uid": identity.uid, "gid": identity.gid, "groups": [], "list": "denied",
                "stat": "denied"}
    if result.status != "ok" or result.value != expected:
        print(f"self-check FAILED: expected {expected}, got {result.status} {result.value!r} "
              f"{result.message}")
        return 1
    print(f"self-check passed: student code runs as {user} (uid {identity.uid}) and cannot enter "
          f"{paths.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

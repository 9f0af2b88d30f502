"""Where things live inside a Gradescope container, and the manifest the build leaves there.

    /autograder/                    AUTOGRADER_ROOT (tests point it at a temporary folder)
        source/                     the unpacked zip: grader/, reference/, assignments/<one>/,
                                    requirements.txt, gradescope.json, results.schema.json
        venv/                       created by setup.sh; only public packages, readable by all
        cache/                      matplotlib's font cache, built by setup.sh, read by student code
        submission/                 the student's upload
        submission_metadata.json    Gradescope's, including earlier results (hidden tests too)
        results/results.json        the single output
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_ROOT = "/autograder"
MANIFEST = "gradescope.json"
SCHEMA = "results.schema.json"
SANDBOX_USER = "lstm-sandbox"
# Gradescope stops a run at 10 minutes; the grading process gets this much of
# it so that there is always time left to report why it was stopped.
BUDGET_SECONDS = 480
# RLIMIT_AS of the process running student code. The container has 768 MB;
# the two grader processes peak near 100 MB each, and address space runs
# ahead of resident memory, so this keeps the whole container under the limit.
MEMORY_MB = 512


@dataclass(frozen=True)
class Paths:
    root: Path

    @staticmethod
    def from_env() -> "Paths":
        return Paths(Path(os.environ.get("AUTOGRADER_ROOT") or DEFAULT_ROOT))

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def metadata(self) -> Path:
        return self.root / "submission_metadata.json"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def results_json(self) -> Path:
        return self.results / "results.json"


@dataclass(frozen=True)
class ManualQuestion:
    id: str
    title: str
    points: float


@dataclass(frozen=True)
class Manifest:
    """What the build knew about the assignment, so that the in-container
    supervisor can describe a failure without loading the grading engine."""

    assignment: str
    title: str
    notebook: str
    max_score: float
    manual: tuple[ManualQuestion, ...] = ()
    sandbox_user: str = SANDBOX_USER
    budget_seconds: float = BUDGET_SECONDS
    memory_mb: int = MEMORY_MB
    commit: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @staticmethod
    def load(path: Path) -> "Manifest":
        data = json.loads(path.read_text(encoding="utf-8"))
        manual = tuple(ManualQuestion(**m) for m in data.pop("manual", ()))
        return Manifest(**data, manual=manual)

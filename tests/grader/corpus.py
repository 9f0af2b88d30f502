"""The hostile corpus of tests/fixtures/hostile/ as the runs outside this
process see it (the grader as an unprivileged user, the Gradescope stand-in).

Each file is one attack, appended as a last cell to the correct lstm_scalar
answers; its header says what it tries (``# attack:``), the exact score it
deserves (``# score:``) and its class (``# class:``, one of CLASSES). The
placeholders in its code (__OUTSIDE__, __VICTIM__, ...) are filled from an
Arena: things the attack would reach without the sandbox, and whose state
after grading shows whether it did.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
# What an attack aims at: reading what it must not, writing outside its folder,
# signalling the grader's processes, starting processes or threads that outlive
# its cell, the network, exhausting time, memory, stack or output, ending its
# own process, and fooling the grader from inside (patched modules, forged output).
CLASSES = ("read", "write", "signal", "spawn", "network", "exhaust", "exit", "tamper")
CLASSMATE = "classmate.ipynb"
LEAK = "RuntimeError: LEAK:"        # what leak() in every attack raises once it got something


@dataclass(frozen=True)
class Attack:
    name: str        # the file's stem
    path: Path
    what: str
    score: float
    kind: str


def attacks() -> list[Attack]:
    """Every file of the corpus, in name order; a header that is missing or
    names an unknown class is an error here, not a silently skipped file."""
    found = []
    for path in sorted(CORPUS.glob("*.py")):
        head = path.read_text(encoding="utf-8").splitlines()[:3]
        keys = [line.split(":", 1)[0] for line in head]
        if keys != ["# attack", "# score", "# class"]:
            raise ValueError(f"{path.name}: the header must be the lines # attack:, # score:, # class:, "
                             f"not {head}")
        what, score, kind = (line.split(":", 1)[1].strip() for line in head)
        if kind not in CLASSES:
            raise ValueError(f"{path.name}: unknown class {kind!r} (one of {', '.join(CLASSES)})")
        found.append(Attack(path.stem, path, what, float(score), kind))
    return found


def representatives(every: list[Attack]) -> list[Attack]:
    """One attack per class, the first of its class in name order: a rule that
    knows nothing of how hard an attack is or how long it takes."""
    first: dict[str, Attack] = {}
    for attack in every:
        first.setdefault(attack.kind, attack)
    return [first[kind] for kind in CLASSES]


@dataclass
class Arena:
    """The placeholders' values for one run, and the checks of their state after it.

    ``victim`` is a live process the attacks aim signals at; ``secret`` is put
    in the grader's environment as LSTM_HOSTILE_TOKEN by the caller."""
    outside: Path            # a folder the attacker's user could write, holding a classmate's notebook
    grader_dir: Path         # the grader's package folder
    grader_file: Path        # one of the grader's files
    solution: Path           # what must stay secret (the solution notebook, the hidden tests)
    victim: subprocess.Popen
    token: str = field(default_factory=lambda: os.urandom(6).hex())
    secret: str = field(default_factory=lambda: "SECRET" + os.urandom(6).hex())

    def __post_init__(self):
        (self.outside / CLASSMATE).write_text('{"LEAK": "a classmate\'s answers"}')
        (self.outside / CLASSMATE).chmod(0o644)

    def fill(self, text: str) -> str:
        values = {"__SOLUTION__": str(self.solution), "__GRADER_FILE__": str(self.grader_file),
                  "__GRADER_DIR__": str(self.grader_dir), "__OUTSIDE__": str(self.outside),
                  "__VICTIM__": str(self.victim.pid), "__TOKEN__": self.token}
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    def submission(self, attack: Attack, correct: list[str]) -> str:
        """The .py submission: the correct answers' cells, then the attack's."""
        cells = [*correct, self.fill(attack.path.read_text(encoding="utf-8"))]
        return "".join(f"# %%\n{src}\n" for src in cells)

    def traces(self) -> list[str]:
        """Every effect an attack can leave that is visible after grading."""
        found = sorted(f"wrote {p}" for p in self.outside.iterdir() if p.name != CLASSMATE)
        found += sorted(f"wrote {p}" for p in self.grader_dir.glob(f"pwned_{self.token}*"))
        found += [f"wrote {p}" for p in (Path(f"/tmp/lstm-pwned-{self.token}"),) if p.exists()]
        if self.victim.poll() is not None:   # poll, not kill(pid, 0): a killed child is a zombie until waited
            found.append(f"victim killed ({self.victim.returncode})")
        return found

    def leaks(self, text: str, where: str) -> list[str]:
        """What of the attack's loot, or of its control characters, shows in ``text``."""
        plain = text.replace("\\", "")   # Markdown escapes (results.json) must not hide a leak
        found = [f"{where}: {LEAK}" for t in (text, plain) if LEAK in t][:1]
        found += [f"{where}: the grader's secret" for t in (text, plain) if self.secret in t][:1]
        if "\x1b" in text or "\\u001b" in text.lower():
            found.append(f"{where}: an escape character")
        return found

    def clean(self) -> None:
        for path in self.grader_dir.glob(f"pwned_{self.token}*"):
            path.unlink()
        Path(f"/tmp/lstm-pwned-{self.token}").unlink(missing_ok=True)


# Rows for the table `make security` prints after the tests of the runs
# (LSTM_HOSTILE_FULL=1): attack -> run -> "score verdict".
ROWS: dict[str, dict[str, str]] = {}
NOTES: list[str] = []   # lines printed under the table


def record(name: str, run: str, score: float | None, problems: list[str], extra: str = "") -> None:
    shown = "-" if score is None else f"{score:g}"
    verdict = "held" if not problems else "BREACHED: " + "; ".join(problems)
    ROWS.setdefault(name, {})[run] = f"{shown:>5} {verdict}{extra}"

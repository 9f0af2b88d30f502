"""`make demo`: grade every pack's example submissions and compare with what they document.

One line per example (pack, file, the score examples/expected.toml documents,
the score it got, OK or DIFF), then one report in full, so that a first run
shows what the grader does without a thousand lines of output.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .assignment import ASSIGNMENTS_DIR, load_assignment
from .batch import grade_many
from .report import Report, points, render_text

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# The report shown in full: an answer that drops one path of the chain rule.
SHOWN = ("lstm_scalar", "dropped_next_cell_term.ipynb")


def examples(pack: Path) -> list[dict]:
    return tomllib.loads((pack / "examples" / "expected.toml").read_text(encoding="utf-8"))["example"]


def verdict(example: dict, report: Report) -> str:
    """OK, or DIFF with what differs from the documented score and lost questions."""
    lost = sorted(q.name for q in report.questions if not q.manual and q.score < q.max_score - 1e-9)
    wrong = []
    if abs(report.score - example["score"]) > 1e-6:
        wrong.append(f"score {points(report.score)}, documented {points(example['score'])}")
    if lost != sorted(example["lost"]):
        documented = ", ".join(sorted(example["lost"])) or "nothing"
        wrong.append(f"lost {', '.join(lost) or 'nothing'}, documented {documented}")
    if report.grader_error:
        wrong.append("grader error")
    return "OK" if not wrong else "DIFF (" + "; ".join(wrong) + ")"


def main(jobs: int = 2) -> int:
    packs = sorted(p.parent.parent for p in ASSIGNMENTS_DIR.glob("*/examples/expected.toml"))
    rows, shown, diffs = [], None, 0
    for pack in packs:
        assignment = load_assignment(pack.name)
        listed = examples(pack)
        reports = grade_many(assignment, [pack / "examples" / e["file"] for e in listed], jobs=jobs)
        for example, report in zip(listed, reports):
            v = verdict(example, report)
            diffs += v != "OK"
            rows.append((pack.name, example["file"], points(example["score"]), points(report.score),
                         points(report.max_score), v))
            if (pack.name, example["file"]) == SHOWN:
                shown = report
    widths = [max(len(r[k]) for r in rows) for k in range(2)]
    print(f"{'pack':<{widths[0]}}  {'file':<{widths[1]}}  {'expected':>8}  {'got':>8}")
    for pack, file, expected, got, top, v in rows:
        print(f"{pack:<{widths[0]}}  {file:<{widths[1]}}  {expected:>8}  {got:>8}  / {top:<3} {v}")
    print(f"\n{len(rows) - diffs} of {len(rows)} examples get the score they document.")
    if shown is not None:
        print(f"\nOne report in full ({SHOWN[0]}/examples/{SHOWN[1]}):\n")
        print(render_text(shown))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

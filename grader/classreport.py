"""The class view of a batch: its JSON document, the terminal summary, one HTML page.

    {"schema": 2, "assignment": "...", "reports": [...], "skipped": [...], "students": {...}}

is the one shape ``lstm-grader grade --json`` writes, for one submission or a
thousand; ``lstm-grader report REPORTS.json --out class.html`` reads it back
(and the older shapes: one report object, or a list of them) and writes a
self-contained page: a score histogram, per-question pass rates and the
commonest reasons for lost points, with the figures embedded as PNG.
"""
from __future__ import annotations

import base64
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from . import textsafe
from .report import Report, points

DOCUMENT_SCHEMA = 2     # 1 was "an object for one report, a list for several"
# Points earned and lost; colours the page itself never uses, so that `make
# report-check` can find the plots on a screenshot.
BAR, LOST = "#2f6db5", "#f0a58c"
# Not reasons: the assignment's hint, the "scored once right" notes, and the
# per-question copies of a file-level "not graded" (counted once, as "(file)").
_BOILERPLATE = ("hint", "not run:", "no credit:", "not graded:")


# -- the JSON document ------------------------------------------------------------

def document(reports: Sequence[Report], assignment: str = "", skipped=(), identities=None) -> dict:
    students = {}
    for sid, ident in (identities or {}).items():
        students[sid] = [{"name": s.name, "email": s.email, "sid": s.sid} for s in ident.students]
    return textsafe.sanitize({
        "schema": DOCUMENT_SCHEMA, "assignment": assignment,
        "reports": [r.to_dict() for r in reports],
        "skipped": [{"path": s.id, "reason": s.reason} for s in skipped],
        "students": students,
    })


def load_reports(path: str | Path) -> tuple[list[Report], dict]:
    """The reports of a JSON file in any shape ``grade --json`` ever wrote, and the document."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if isinstance(data, dict) and "reports" in data:
        items, doc = data["reports"], data
    elif isinstance(data, dict):
        items, doc = [data], {}
    elif isinstance(data, list):
        items, doc = data, {}
    else:
        raise ValueError(f"{path}: expected grading reports (from `lstm-grader grade --json`)")
    try:
        return [Report.from_dict(d) for d in items], doc
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a grading report ({type(exc).__name__}: {exc})") from None


# -- the terminal summary ----------------------------------------------------------

def summary_table(reports: Sequence[Report]) -> str:
    """Count, mean and median of the totals, then each question's mean."""
    if not reports:
        return "no submissions graded"
    totals = [r.score for r in reports]
    top = reports[0].max_score
    lines = [f"{len(reports)} submission{'s' * (len(reports) != 1)}: mean {points(statistics.fmean(totals))}"
             f" / {points(top)}, median {points(statistics.median(totals))} / {points(top)}",
             f"  {'question':<10} {'mean':>7} {'max':>6} {'full marks':>11}"]
    for name, scores, best, _ in _per_question(reports):
        full = sum(s >= best - 1e-9 for s in scores)
        lines.append(f"  {name:<10} {points(statistics.fmean(scores)):>7} {points(best):>6} "
                     f"{f'{full}/{len(scores)}':>11}")
    return "\n".join(lines)


def _per_question(reports: Sequence[Report]):
    """(question, its scores, its maximum, its title) for every autograded question, in order."""
    order, scores, best, titles = [], defaultdict(list), {}, {}
    for r in reports:
        for q in r.questions:
            if q.manual:
                continue
            if q.name not in best:
                order.append(q.name)
            best[q.name] = q.max_score
            titles[q.name] = q.title
            scores[q.name].append(q.score)
    return [(textsafe.one_line(n), scores[n], best[n], titles[n]) for n in order]


def common_losses(reports: Sequence[Report], n: int = 12) -> list[tuple[int, str, str]]:
    """(submissions, questions, message) for the commonest messages of lost
    points. Numbers are ignored when grouping ("5 of 6 cases failed" and "6 of
    6" are one reason); the commonest wording is shown."""
    groups: dict[str, Counter] = defaultdict(Counter)
    where: dict[str, set] = defaultdict(set)
    who: dict[str, set] = defaultdict(set)
    for r in reports:
        lost = [(q.name, [m for t in q.tests if t.status == "failed" for m in t.messages] + list(q.messages))
                for q in r.questions if not q.manual and q.score < q.max_score - 1e-9]
        if r.score < r.max_score - 1e-9:
            lost.append(("(file)", list(r.messages)))
        for qname, messages in lost:
            for m in dict.fromkeys(textsafe.one_line(m) for m in messages):
                if not m or m.startswith(_BOILERPLATE):
                    continue
                key = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", m)
                groups[key][m] += 1
                where[key].add(qname)
                who[key].add(r.submission)
    ranked = sorted(groups, key=lambda k: (-len(who[k]), k))[:n]
    return [(len(who[k]), ", ".join(sorted(where[k], key=_natural)), groups[k].most_common(1)[0][0])
            for k in ranked]


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# -- figures -------------------------------------------------------------------------

def new_figure(width: float, height: float):
    """A Figure on the Agg canvas, without pyplot: no global backend, no GUI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _histogram(reports: Sequence[Report]) -> str:
    top = max(r.max_score for r in reports) or 1.0
    bins = min(20, max(5, int(top)))
    fig, ax = new_figure(7, 3.2)
    ax.hist([r.score for r in reports], bins=bins, range=(0, top), color=BAR, edgecolor="white")
    ax.set_xlabel(f"autograded score (out of {points(top)})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return png_data_uri(fig)


def _pass_rates(rows) -> str:
    fig, ax = new_figure(7, 0.28 * len(rows) + 1.2)
    names = [row[0] for row in rows][::-1]
    rates = [sum(s >= best - 1e-9 for s in scores) / len(scores) for _, scores, best, _ in rows][::-1]
    ax.barh(names, [1.0] * len(rows), color=LOST)
    ax.barh(names, rates, color=BAR)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of submissions with full marks")
    return png_data_uri(fig)


# -- the page --------------------------------------------------------------------------

def render_class_html(reports: Sequence[Report], title: str = "", skipped=()) -> str:
    from .feedback import page

    h = textsafe.html
    if not reports:
        raise ValueError("no reports to summarise")
    rows = _per_question(reports)
    totals = [r.score for r in reports]
    top = reports[0].max_score
    heading = f"Class report: {title or reports[0].assignment}"
    body = [f"<h1>{h(heading)}</h1>",
            f"<p>{len(reports)} submissions; mean {points(statistics.fmean(totals))} / {points(top)}, median "
            f"{points(statistics.median(totals))}, {sum(t >= top - 1e-9 for t in totals)} with full marks, "
            f"{sum(bool(r.grader_error) for r in reports)} grader errors.</p>",
            "<h2>Scores</h2>", f"<img alt=\"histogram of the scores\" src=\"{_histogram(reports)}\">",
            "<h2>Questions</h2>", f"<img alt=\"share of full marks per question\" src=\"{_pass_rates(rows)}\">",
            "<table><tr><th>question</th><th></th><th>mean</th><th>max</th><th>full marks</th></tr>"]
    for name, scores, best, qtitle in rows:
        full = sum(s >= best - 1e-9 for s in scores)
        body.append(f"<tr><td>{h(name)}</td><td>{h(qtitle)}</td><td>{points(statistics.fmean(scores))}</td>"
                    f"<td>{points(best)}</td>"
                    f"<td>{full} / {len(scores)} ({100 * full / len(scores):.0f}%)</td></tr>")
    body += ["</table>", "<h2>Commonest reasons for lost points</h2>",
             "<table><tr><th>submissions</th><th>questions</th><th>message</th></tr>"]
    for count, where, message in common_losses(reports):
        body.append(f"<tr><td>{count}</td><td>{h(where)}</td><td>{h(message)}</td></tr>")
    body.append("</table>")
    if skipped:
        body += ["<h2>Files not graded</h2>", "<table><tr><th>path</th><th>reason</th></tr>",
                 *(f"<tr><td><code>{h(s['path'])}</code></td><td>{h(s['reason'])}</td></tr>" for s in skipped),
                 "</table>"]
    return page(heading, body)


def write_class_report(reports: Sequence[Report], out: str | Path, title: str = "", skipped=()) -> Path:
    path = Path(out)
    path.write_text(render_class_html(reports, title, skipped), encoding="utf-8")
    return path


# -- `make report-check`: do the pages show their plots in a real browser? ---------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def plot_pixels(png: bytes | str | Path, colours: Sequence[str] = (BAR, LOST), tolerance: int = 8) -> int:
    """How many pixels of an image have the bars' colours: a page whose figures
    failed to display has none (the page itself never uses them)."""
    from matplotlib import image

    try:
        data = image.imread(io.BytesIO(png) if isinstance(png, bytes) else png)
    except (OSError, ValueError, SyntaxError):   # not a PNG at all: nothing drawn
        return 0
    rgb = (data[..., :3] * 255).round() if data.dtype.kind == "f" else data[..., :3]
    hits = 0
    for colour in colours:
        target = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
        hits += int((abs(rgb - target) <= tolerance).all(axis=-1).sum())
    return hits


def _decoded(b64: str) -> bytes:
    try:
        return base64.b64decode(b64)
    except ValueError:   # binascii.Error: a broken figure, which then counts as not drawn
        return b""


def browser_check(files: Sequence[str | Path], browser: str = "") -> list[str]:
    """Open each page in headless Chromium, screenshot it, and check that each
    embedded figure decodes and that the plots are on screen. One line per
    page; raises RuntimeError if any page fails."""
    import shutil
    import subprocess
    import tempfile

    exe = browser or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not exe:
        raise RuntimeError("no Chromium found; install it (Debian: apt-get install -y chromium)")
    lines, failed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        for k, f in enumerate(map(Path, files)):
            text = f.read_text(encoding="utf-8")
            figures = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
            drawn = [plot_pixels(_decoded(b)) for b in figures]
            shot = Path(tmp, f"page{k}.png")
            # --no-sandbox: Chromium's own sandbox refuses to start as root, as in CI containers.
            run = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                  "--window-size=1280,4000", f"--screenshot={shot}", f.resolve().as_uri()],
                                 capture_output=True, text=True, timeout=180)
            on_screen = plot_pixels(shot) if shot.is_file() else 0
            ok = bool(figures) and all(drawn) and on_screen >= sum(drawn) // 2
            failed |= not ok
            lines.append(f"{'ok  ' if ok else 'FAIL'} {f}: {len(figures)} figure(s) embedded, "
                         f"{on_screen} plot pixels on screen (the figures hold {sum(drawn)})"
                         + ("" if shot.is_file() else f"; no screenshot: {run.stderr.strip()[-300:]}"))
    if failed:
        raise RuntimeError("\n".join(lines))
    return lines


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "check":
        sys.exit("usage: python -m grader.classreport check PAGE.html...")
    try:
        print("\n".join(browser_check(sys.argv[2:])))
    except RuntimeError as exc:
        sys.exit(str(exc))

"""The self-check that ships inside every student notebook, as the source of one function.

The generator copies the source of :func:`_selfcheck` verbatim into the
notebook's first code cell and calls it with the notebook's globals and the
embedded public tests. So this function must stand alone: every import inside
it, numpy and the standard library only, nothing from ``grader`` or
``reference``, no files, and no syntax newer than the Pythons students run
(hosted Jupyter services lag behind). It also runs under the autograder
whenever a student leaves ``check_all()`` in a cell, so it must not touch
signals, threads or anything else the sandbox owns.

The comparison repeats grader/compare.py and grader/checks/base.py's ``judge``
(errors, numerical warnings, inputs changed in place, then the normwise value
test, and for a wrong array the gate block or time step its task's layout
names); tests/grader/authoring checks that both reach the same verdicts in the
same words.
"""


def _selfcheck(namespace, data):
    # Bound as locals, never looked up in the notebook's globals, so that a
    # student's `sum = 0` or `list = [...]` at top level cannot break the check.
    from builtins import (
        BaseException, KeyboardInterrupt, NotImplementedError, TypeError, ValueError, abs, all, any, bool,
        callable, complex, dict, enumerate, filter, float, getattr, int, isinstance, len, list, max, next, print,
        range, repr, str, sum, tuple, type, zip,
    )
    import base64
    import contextlib
    import difflib
    import html
    import inspect
    import io
    import json
    import math
    import os
    import sys
    import traceback
    import warnings
    import zlib

    import numpy

    eps = float(numpy.finfo(numpy.float64).eps)
    spec = json.loads(zlib.decompress(base64.b64decode(data)).decode("utf-8"))
    questions = spec["questions"]
    by_id = {q["id"]: q for q in questions}
    # another question's function is never a rename candidate, however similar (as in the grader)
    taken = {f for q in questions for f in q.get("functions", ())}

    elsewhere_kinds = []
    for q in questions:
        for label in q.get("autograder_only", []):
            kind = label.split(" (")[0]
            if kind not in elsewhere_kinds:
                elsewhere_kinds.append(kind)
    unseen = " and ".join(
        (["hidden tests"] if any(q.get("hidden") for q in questions) else [])
        + (["the %s checks" % ", ".join(elsewhere_kinds)] if elsewhere_kinds else []))
    unseen = "The autograder also runs %s, so passing these does not guarantee full marks." % unseen \
        if unseen else "These are all the autograder's tests."

    def decode(obj):
        if isinstance(obj, list):
            return [decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if "array" in obj:
            return numpy.array(obj["array"], dtype=obj["dtype"]).reshape(obj["shape"])
        if "tuple" in obj:
            return tuple(decode(v) for v in obj["tuple"])
        if "dict" in obj:
            return {k: decode(v) for k, v in obj["dict"].items()}
        return float(obj["float"])

    def describe(value):
        if value is None:
            return "None (is a `return` statement missing?)"
        if isinstance(value, str):
            return "a string (%r)" % value[:40]
        if isinstance(value, (bool, numpy.bool_)):
            return "a bool (%s)" % value
        if isinstance(value, complex):
            return "a complex number (%s)" % value
        if isinstance(value, (list, tuple)):
            return "a %s of length %d" % (type(value).__name__, len(value))
        if isinstance(value, dict):
            return "a dict"
        if type(value).__module__.split(".")[0] == "sympy":
            return "a symbolic expression that still contains symbols"
        if isinstance(value, numpy.ndarray):
            return "an array of shape %s" % (value.shape,)
        return "a %s" % type(value).__name__

    def as_number(value):
        if isinstance(value, numpy.generic):
            value = value.item()
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, numpy.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
            return float(value.reshape(-1)[0])
        if type(value).__module__.split(".")[0] == "sympy":
            try:  # a SymPy constant counts, as it does in the autograder
                number = complex(value)
            except (TypeError, ValueError):
                return None
            return number.real if number.imag == 0 else None
        return None

    def bound(tol, expected_norm, magnitude_norm):
        return tol["rtol"] * expected_norm + tol["kappa"] * eps * magnitude_norm

    def norm(values):
        # as the grader's: a correctly rounded sum, the same bits on every CPU
        flat = [abs(float(v)) for v in numpy.asarray(values, dtype=float).reshape(-1)]
        scale = max(flat, default=0.0)
        if scale == 0.0 or not math.isfinite(scale):
            return scale
        return scale * math.sqrt(math.fsum((v / scale) ** 2 for v in flat))

    def judge_error(err, expected_norm, magnitude_norm, tol, label):
        if err <= bound(tol, expected_norm, magnitude_norm):
            return None
        relative = err / expected_norm if expected_norm > 0 else math.inf
        if relative <= tol["precision"]:
            return None  # right; only its float64 evaluation loses digits
        if relative < 1e-2:
            return "value", ("%sreturned %s off by %.1e relative: close, but more than rounding explains; a term "
                             "is missing or wrong" % (label, "values" if label else "a value", relative))
        return "value", "%sreturned %s" % (label, "wrong values" if label else "a wrong value")

    def compare_scalar(got, expected, magnitude, tol):
        number = as_number(got)
        if number is None:
            return "type", "returned %s, but a real number was expected" % describe(got)
        if not math.isfinite(number):
            return "nonfinite", "returned %s" % number
        return judge_error(abs(number - expected), abs(expected), abs(magnitude), tol, "")

    def locate(diff, layout):  # grader.compare.locate: where the clearly wrong entries of an array are
        if not layout or diff.ndim != len(layout):
            return ""
        err = numpy.abs(diff)
        wrong = err >= 1e-3 * float(err.max()) if err.size and err.max() > 0 else numpy.zeros(err.shape, bool)
        parts = []
        for axis, role in enumerate(layout):
            hit = numpy.any(wrong, axis=tuple(k for k in range(err.ndim) if k != axis))
            if not role or not hit.any():
                continue
            if role.startswith("gates:"):
                order = role.split(":", 1)[1]
                block = err.shape[axis] // len(order)
                gates = [g for k, g in enumerate(order) if hit[k * block:(k + 1) * block].any()]
                if len(gates) < len(order):
                    parts.append("in the %s gate block%s only" % (", ".join(gates), "s" if len(gates) > 1 else ""))
            elif role == "time":
                parts.append("first at time step %d of %d" % (int(numpy.argmax(hit)) + 1, err.shape[axis]))
        return " (%s)" % "; ".join(parts) if parts else ""

    def compare_array(got, expected, magnitude, tol, name="", layout=()):
        label = name + ": " if name else ""
        if isinstance(got, list):
            try:
                got = numpy.asarray(got, dtype=float)
            except (TypeError, ValueError):
                return "type", "%sreturned %s that is not an array of numbers" % (label, describe(got))
        if not isinstance(got, numpy.ndarray) or got.dtype.kind not in "iuf":
            if isinstance(got, numpy.ndarray) and got.dtype.kind == "c":
                return "type", label + "returned a complex array; the gradient is real"
            return "type", "%sreturned %s, but an array of shape %s was expected" % (
                label, describe(got), expected.shape)
        if got.shape != expected.shape:
            if [k for k in got.shape if k != 1] != [k for k in expected.shape if k != 1]:
                return "shape", "%sreturned shape %s, but shape %s was expected" % (label, got.shape, expected.shape)
            got = got.reshape(expected.shape)  # only axes of size 1 differ: graded as reshaped
        if not numpy.all(numpy.isfinite(got)):
            return "nonfinite", label + "returned an array containing " + (
                "NaN" if numpy.isnan(got).any() else "inf")
        diff = got.astype(float) - expected
        bad = judge_error(norm(diff), norm(expected), norm(expected if magnitude is None else magnitude), tol, label)
        return bad and (bad[0], bad[1] + locate(diff, layout))

    def compare(got, expected, magnitude, tol, names=(), layouts=None):
        layouts = layouts or {}
        if isinstance(expected, tuple):
            if not isinstance(got, (tuple, list)) or len(got) != len(expected):
                want = "a tuple of %d values" % len(expected) + (" (%s)" % ", ".join(names) if names else "")
                return "type", "returned %s, but %s was expected" % (describe(got), want)
            mags = magnitude if isinstance(magnitude, tuple) else (None,) * len(expected)
            wrong = []
            for k, (g, e, m) in enumerate(zip(got, expected, mags)):
                name = names[k] if k < len(names) else "item %d" % k
                if isinstance(e, tuple):
                    bad = compare(g, e, m, tol, (name,), layouts)
                elif isinstance(e, numpy.ndarray):
                    bad = compare_array(g, e, m, tol, name, layouts.get(name, ()))
                else:
                    bad = compare_scalar(g, e, abs(e) if m is None else m, tol)
                    bad = bad and (bad[0], name + ": " + bad[1])
                wrong += [bad] if bad else []
            if len(wrong) > 1 and all(kind == "value" for kind, _ in wrong):
                # every wrong output with its gate block or time step, as the grader lists them
                return "value", "; ".join(message for _, message in wrong)
            return wrong[0] if wrong else None
        if isinstance(expected, numpy.ndarray):
            return compare_array(got, expected, magnitude, tol, "", layouts.get("", ()))
        return compare_scalar(got, float(expected), abs(expected if magnitude is None else magnitude), tol)

    library = tuple(p for p in (os.path.dirname(os.__file__), "site-packages", "dist-packages") if p)

    def where(tb):
        """The student's line that failed, not numpy's or this check's."""
        frames = [f for f in traceback.extract_tb(tb)[1:] if not any(p in f.filename for p in library)]
        return " (in %s, line %d)" % (frames[-1].name, frames[-1].lineno) if frames else ""

    def call(fn, args):
        """(status, message, value): the student's exception or warning is theirs
        to fix, never a crash of the check."""
        sink = io.StringIO()  # what the function prints would bury the verdicts
        try:
            with warnings.catch_warnings(record=True) as caught, \
                    numpy.errstate(over="warn", divide="warn", invalid="warn", under="ignore"), \
                    contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                warnings.simplefilter("always")
                value = fn(*args)
        except KeyboardInterrupt:
            raise
        except NotImplementedError as exc:
            # Name the function that raised: behind a helper's driver it is the
            # student's own function, not the one the question calls.
            frames = traceback.extract_tb(exc.__traceback__)
            name = frames[-1].name if len(frames) > 1 else "it"
            return "todo", "%s is not written yet (it still raises NotImplementedError)" % name, None
        except BaseException as exc:  # SystemExit too: a student's error must not end the check
            text = str(exc).strip()[:300]
            message = "raised %s%s" % (type(exc).__name__, ": " + text if text else "")
            return "error", message + where(exc.__traceback__), None
        if caught:
            return "warning", ("raised a numerical warning (%s: %s): compute it in a numerically stable way"
                               % (caught[0].category.__name__, caught[0].message)), value
        return "ok", "", value

    def judge(q, check, case):
        """None if the test passes, else (kind, message)."""
        args = decode(case["args"])  # fresh every call, so a mutating answer cannot spoil later tests
        before = [numpy.array(a, copy=True) if type(a) is numpy.ndarray else None for a in args]
        kind, message, value = call(namespace[q["function"]], args)
        changed = [k for k, (a, b) in enumerate(zip(args, before))
                   if b is not None and (a.shape != b.shape or not numpy.array_equal(a, b, equal_nan=True))]
        if kind == "ok":
            expected = decode(case["expected"])
            # no 1e-6 leniency where a known wrong answer is that close (grader.checks.base.lenient_at)
            tol = dict(check, precision=0.0 if case.get("strict") else 1e-6)
            layouts = {k: tuple(v) for k, v in (q.get("layouts") or {}).items()}
            bad = compare(value, expected, decode(case["magnitude"]), tol, tuple(q["outputs"]), layouts)
            if bad is None:
                return None  # an input changed in place costs nothing while the values are right
            kind, message = bad
            if changed:
                params = q["params"]
                which = ", ".join(params[k] if k < len(params) else "argument %d" % (k + 1) for k in changed)
                message += " (it also changed its input (%s) in place, which may be why)" % which
            if kind == "value" and isinstance(expected, float) and len(args) <= 16 and all(
                    isinstance(a, float) for a in args):
                inputs = ", ".join("%s=%.6g" % (n, v) for n, v in zip(q["params"], args))
                number = as_number(value)
                yours = "%.10g" % number if number is not None else repr(value)[:40]
                message += "; for %s the expected value is %.10g, yours is %s" % (inputs, expected, yours)
        if case["label"] and kind != "todo":
            message += " [%s]" % case["label"]
        return kind, message

    def names(q):
        return q.get("functions") or ([q["function"]] if q["function"] else [])

    def unusable(q):
        """Why the function cannot be called at all, or ""."""
        for name in names(q) + [q["function"]]:
            fn = namespace.get(name)
            if fn is None:
                others = [k for k in namespace if callable(namespace[k]) and k not in taken]
                close = difflib.get_close_matches(name, others, n=1, cutoff=0.8)
                hint = "; did you mean %s? (rename it to %s)" % (close[0], name) if close else ""
                return "%s is not defined: run the cell that defines it%s" % (name, hint)
            if not callable(fn):
                return "%s is a %s, not a function" % (name, type(fn).__name__)
        name, fn = q["function"], namespace[q["function"]]
        if q["check_signature"] and names(q) == [name]:  # a pack's driver fixes the student's signatures
            try:
                params = list(inspect.signature(fn).parameters.values())
            except (TypeError, ValueError):
                return ""
            if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
                return ""
            if len(params) != len(q["params"]):
                return "%s takes %d parameter(s) (%s) but it must take %d: %s" % (
                    name, len(params), ", ".join(p.name for p in params), len(q["params"]),
                    ", ".join(q["params"]))
        return ""

    def run(q):
        """(label, failure or None) per public test, or a reason nothing could run."""
        reason = unusable(q)
        if reason:
            return reason, []
        results = []
        for check in q["checks"]:
            for k, case in enumerate(check["cases"], 1):
                label = "%s test %d/%d" % (check["label"], k, len(check["cases"]))
                results.append((label, judge(q, check, case)))
        return "", results

    def elsewhere(q):
        parts = ["%s (checked only by the autograder)" % label for label in q["autograder_only"]]
        if q["hidden"]:
            parts.append("%d hidden check%s" % (q["hidden"], "s" if q["hidden"] > 1 else ""))
        return "not run here: " + ", ".join(parts) if parts else ""

    def find(question):
        q = by_id.get(str(question))
        if q is None and str(question).isdigit():  # check(3) for check("q3")
            q = by_id.get("q%s" % question)
        if q is None:
            print("there is no question %r; the questions are %s" % (question, ", ".join(by_id)))
        return q

    # --- output: plain text, or coloured HTML in a notebook frontend --------------

    def frontend():
        """IPython's display() when a Jupyter kernel runs this (JupyterLab, Notebook,
        VS Code, Colab: each is a ZMQInteractiveShell), else None: a terminal IPython
        or the autograder gets the plain text."""
        ipython = sys.modules.get("IPython")
        shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
        if shell is None or not any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__):
            return None
        from IPython.display import display
        return display

    def show(lines, markup):
        display = frontend()
        if display is None:
            for line in lines:
                print(line)
        else:  # text/plain too: what nbconvert, a console or a test reads
            display({"text/plain": "\n".join(lines), "text/html": markup}, raw=True)

    colours = {"ok": ("#1a7f37", "#dafbe1"), "fail": ("#cf222e", "#ffebe9"), "info": ("#57606a", "#f6f8fa"),
               "todo": ("#9a6700", "#fff8c5")}

    def badge(state, text):
        fg, bg = colours[state]
        return ('<span style="color:%s;background:%s;font-weight:600;padding:1px 6px;border-radius:3px;'
                'white-space:nowrap">%s</span>' % (fg, bg, html.escape(text)))

    def code(items):
        return ", ".join("<code>%s</code>" % html.escape(n) for n in items)

    def page(body):
        return ('<div style="font-family:system-ui,sans-serif;font-size:13px;line-height:1.45">%s</div>' % body)

    def table(rows):
        cells = "".join("<tr>%s</tr>" % "".join(
            '<td style="text-align:left;vertical-align:top;padding:2px 8px">%s</td>' % c for c in row)
            for row in rows)
        return '<table style="border-collapse:collapse;margin:4px 0">%s</table>' % cells

    def hint_box(q):
        return ('<div style="border-left:4px solid #9a6700;background:#fff8c5;padding:4px 8px;margin-top:4px">'
                "<b>Hint:</b> %s</div>" % html.escape(q["hint"]))

    # --- the two commands --------------------------------------------------------

    def check(question):
        """Run the public tests of one question, e.g. check("q3"), and show the verdicts."""
        q = find(question)
        if q is None:
            return
        title = "%s: %s" % (" ".join([q["id"]] + ([", ".join(names(q))] if names(q) else [])), q["title"])
        head = "<b>%s</b> %s: %s" % (html.escape(q["id"]), code(names(q)), html.escape(q["title"]))
        if q["manual"]:
            show([title, "  graded by hand: there are no tests to run"],
                 page(head + "<div>%s</div>" % badge("info", "graded by hand: there are no tests to run")))
            return
        reason, results = run(q)
        if results and all(bad is not None and bad[0] == "todo" for _, bad in results):
            reason, results = results[0][1][1], []
        lines, rows = [title], []
        if reason:
            lines.append("  FAIL  " + reason)
            rows.append([badge("todo" if "not written yet" in reason else "fail", "FAIL"), html.escape(reason)])
        for label, bad in results:
            lines.append("  ok    " + label if bad is None else "  FAIL  %s: %s" % (label, bad[1]))
            rows.append([badge("ok", "ok"), html.escape(label), ""] if bad is None else
                        [badge("fail", "FAIL"), html.escape(label), html.escape(bad[1])])
        passed = sum(bad is None for _, bad in results)
        summary = "%d of %d public tests passed" % (passed, len(results)) if results else ""
        if summary:
            lines.append("  " + summary)
        if elsewhere(q):
            lines.append("  " + elsewhere(q))
        failed = bool(reason) or passed < len(results)
        if q["hint"] and failed:
            lines.append("  hint: " + q["hint"])
        markup = head + table(rows)
        if summary:
            markup += "<div>%s</div>" % badge("fail" if failed else "ok", summary)
        if elsewhere(q):
            markup += '<div style="color:#57606a">%s</div>' % html.escape(elsewhere(q))
        if q["hint"] and failed:
            markup += hint_box(q)
        show(lines, page(markup))

    def check_all():
        """Run the public tests of every question and show one line per question."""
        total = passed = 0
        failing = []
        id_width = max(len(q["id"]) for q in questions)
        name_width = max(len(", ".join(names(q))) for q in questions)
        lines, rows = [], []
        for q in questions:
            head = "%s %s " % (q["id"].ljust(id_width), ", ".join(names(q)).ljust(name_width))
            first = [html.escape(q["id"]), code(names(q))]
            if q["manual"]:
                lines.append(head + "graded by hand")
                rows.append(first + [badge("info", "by hand"), "graded by hand"])
                continue
            reason, results = run(q)
            ok = sum(bad is None for _, bad in results)
            count = sum(len(c["cases"]) for c in q["checks"])
            total, passed = total + count, passed + ok
            if not reason and ok == count:
                text = ("%d of %d public tests passed" % (ok, count) if count else
                        "no public tests; checked only by the autograder")
                lines.append(head + text)
                rows.append(first + [badge("ok" if count else "info", "%d/%d" % (ok, count)), html.escape(text)])
                continue
            failing.append(q["id"])
            bad = [b for _, b in results if b is not None]
            if not reason and all(kind == "todo" for kind, _ in bad):
                # "not written yet" when it is the one function the student writes; else name it
                own = len(names(q)) == 1 and bad[0][1].startswith(names(q)[0] + " ")
                text = "not written yet" if own else bad[0][1]
                lines.append(head + text)
                rows.append(first + [badge("todo", "to do"), html.escape(text)])
                continue
            first_failure = reason or next("%s: %s" % (label, b[1]) for label, b in results if b is not None)
            lines.append(head + "%d of %d public tests passed; first failure: %s" % (ok, count, first_failure))
            rows.append(first + [badge("fail", "%d/%d" % (ok, count)),
                                 html.escape("first failure: " + first_failure)])
        if failing:
            closing = "%d of %d public tests passed; failing: %s. Run check(\"%s\") for details." % (
                passed, total, ", ".join(failing), failing[0])
        else:
            closing = "All %d public tests passed." % total
        lines += [closing, unseen]
        show(lines, page(table(rows) + "<div>%s</div>" % badge("fail" if failing else "ok", closing)
                         + '<div style="color:#57606a">%s</div>' % html.escape(unseen)))

    return check, check_all

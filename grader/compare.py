"""Compare what a student's function returned with the expected value, and say why not.

The pass criterion is normwise: ‖got - expected‖ ≤ rtol·‖expected‖ + κ·ε·‖magnitude‖,
where ``magnitude`` is the size of the terms that make up the answer. An
element-wise relative test alone would fail correct answers wherever the
true gradient is tiny next to the terms that produce it, which is exactly what
happens when gates saturate.

Two leniencies a fair TA grants, each passing with a note rather than silently:
an answer off by at most PRECISION (1e-6) relative is right in exact arithmetic
and loses digits only to its float64 evaluation (cancellation); and an array
whose shape differs from the expected one only by axes of size 1 ((1, 4H) for
(4H,)) is compared as if reshaped. Norms are summed with math.fsum, correctly
rounded, so the verdict on given numbers is the same on every CPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .sandbox import ExprTree, ExprTreeError, to_sympy
from .timebox import timeboxed

EPS = float(np.finfo(np.float64).eps)
# Past the strict bound but within this relative error, a formula is right and
# only its float64 evaluation loses digits; more than this, something is wrong.
PRECISION = 1e-6


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-9
    kappa: float = 256.0  # multiples of machine epsilon times the magnitude

    def bound(self, expected_norm: float, magnitude_norm: float) -> float:
        return self.rtol * expected_norm + self.kappa * EPS * magnitude_norm


@dataclass(frozen=True)
class Mismatch:
    kind: str      # "type" | "shape" | "nonfinite" | "value"
    message: str   # student-facing, never containing the expected value
    error: float = float("nan")


def norm(values) -> float:
    """The 2-norm with a correctly rounded sum of squares: the same bits on every CPU."""
    flat = [abs(float(v)) for v in np.asarray(values, dtype=float).reshape(-1)]
    scale = max(flat, default=0.0)
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    # scaled, so that squares of values beyond 1e154 do not overflow
    return scale * math.sqrt(math.fsum((v / scale) ** 2 for v in flat))


def _describe(value: Any) -> str:
    if value is None:
        return "None (is a `return` statement missing?)"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool):
        return f"a bool ({value})"
    if isinstance(value, complex):
        return f"a complex number ({value})"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, ExprTree):
        return "a symbolic expression that still contains symbols"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def as_number(value: Any) -> float | None:
    """A real number from what came back, or None. A SymPy constant counts."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(-1)[0])
    if isinstance(value, ExprTree) and not value.symbols:
        # Evaluating a constant the student built (10**10**999) is unbounded work: it is
        # done in a killable, memory-limited fork, never in the grader's own process.
        number = timeboxed(lambda: _constant(value), CONSTANT_SECONDS)
        return number if isinstance(number, float) else None
    return None


CONSTANT_SECONDS = 2.0


def _constant(value: ExprTree) -> float | None:
    try:
        expr = to_sympy(value, {})
    except ExprTreeError:
        return None
    return float(expr) if expr.is_real and expr.is_finite else None


def compare_scalar(got: Any, expected: float, magnitude: float, tol: Tolerance,
                   notes: list | None = None, precision: float = PRECISION) -> Mismatch | None:
    number = as_number(got)
    if number is None:
        return Mismatch("type", f"returned {_describe(got)}, but a real number was expected")
    if isinstance(got, np.ndarray) and got.ndim > 1 and notes is not None:
        notes.append(f"returned an array of shape {got.shape} where a number was expected; graded as that number")
    if not np.isfinite(number):
        return Mismatch("nonfinite", f"returned {number}")
    return _judge_error(abs(number - expected), abs(expected), abs(magnitude), tol, "", notes,
                        precision=precision)


# Below this relative error a wrong answer is "close": the message says how close,
# and no more than that (one point cannot tell a small wrong term from lost digits).
CLOSE = 1e-2


def _judge_error(err: float, expected_norm: float, magnitude_norm: float, tol: Tolerance, label: str,
                 notes: list | None, plural: bool = False, precision: float = PRECISION) -> Mismatch | None:
    if err <= tol.bound(expected_norm, magnitude_norm):
        return None
    relative = err / expected_norm if expected_norm > 0 else math.inf
    if relative <= precision:
        if notes is not None:
            notes.append(f"{label}right, but with about {_digits(relative)} correct significant digits where a "
                         "careful float64 computation keeps about 15: the formula loses precision at these "
                         "inputs (typically by subtracting nearly equal numbers); accepted")
        return None
    if relative < CLOSE:
        return Mismatch("value", f"{label}returned {'values' if plural else 'a value'} off by {relative:.1e} "
                                 "relative: close, but more than rounding explains; a term is missing or "
                                 "wrong", relative)
    return Mismatch("value", f"{label}returned {'wrong values' if plural else 'a wrong value'}", relative)


def _digits(relative: float) -> int:
    return max(0, int(-math.log10(max(relative, 1e-300))))


def locate(diff: np.ndarray, layout: tuple) -> str:
    """Where the clearly wrong entries of an array are, by the roles of its axes:
    "gates:ifog" (a packed 4H axis, gate blocks in that order) or "time". An entry
    is clearly wrong when its error is at least 1e-3 of the largest error: the
    others carry rounding only."""
    if not layout or diff.ndim != len(layout):
        return ""
    err = np.abs(diff)
    wrong = err >= 1e-3 * float(err.max()) if err.size and err.max() > 0 else np.zeros(err.shape, bool)
    parts = []
    for axis, role in enumerate(layout):
        hit = np.any(wrong, axis=tuple(k for k in range(err.ndim) if k != axis))
        if not role or not hit.any():
            continue
        if role.startswith("gates:"):
            order = role.split(":", 1)[1]
            block = err.shape[axis] // len(order)
            gates = [g for k, g in enumerate(order) if hit[k * block:(k + 1) * block].any()]
            if len(gates) < len(order):
                parts.append(f"in the {', '.join(gates)} gate block{'s' if len(gates) > 1 else ''} only")
        elif role == "time":
            first = int(np.argmax(hit))
            parts.append(f"first at time step {first + 1} of {err.shape[axis]}")
    return f" ({'; '.join(parts)})" if parts else ""


def compare_array(got: Any, expected: np.ndarray, magnitude: Any, tol: Tolerance, name: str = "",
                  notes: list | None = None, layout: tuple = (), precision: float = PRECISION) -> Mismatch | None:
    label = f"{name}: " if name else ""
    if isinstance(got, list):
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return Mismatch("type", f"{label}returned {_describe(got)} that is not an array of numbers")
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iuf":
        if isinstance(got, np.ndarray) and got.dtype.kind == "c":
            return Mismatch("type", f"{label}returned a complex array; the gradient is real")
        return Mismatch("type", f"{label}returned {_describe(got)}, but an array of shape {expected.shape} was expected")
    if got.shape != expected.shape:
        if _squeezed(got.shape) != _squeezed(expected.shape):
            return Mismatch("shape", f"{label}returned shape {got.shape}, but shape {expected.shape} was expected")
        if notes is not None:
            notes.append(f"{label}returned shape {got.shape} where {expected.shape} was expected; they differ only "
                         "by axes of size 1, so it was graded as reshaped")
        got = got.reshape(expected.shape)
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.isnan(got).any() else "inf"
        return Mismatch("nonfinite", f"{label}returned an array containing {bad}")
    diff = got.astype(float) - expected
    mag = norm(magnitude) if magnitude is not None else norm(expected)
    bad = _judge_error(norm(diff), norm(expected), mag, tol, label, notes, plural=True, precision=precision)
    if bad is not None and bad.kind == "value":
        bad = Mismatch(bad.kind, bad.message + locate(diff, layout), bad.error)
    return bad


def _squeezed(shape: tuple) -> tuple:
    return tuple(k for k in shape if k != 1)


def compare(got: Any, expected: Any, magnitude: Any, tol: Tolerance, names: tuple[str, ...] = (),
            notes: list | None = None, layouts: dict | None = None, precision: float = PRECISION) -> Mismatch | None:
    """Dispatch on the expected value's structure: number, array, or tuple of those.
    Leniencies granted (precision, size-1 axes) are appended to ``notes``;
    ``layouts`` (output name, or "" for a single output -> axis roles) lets a
    wrong array say which gate block or time step is wrong."""
    layouts = layouts or {}
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            want = f"a tuple of {len(expected)} values" + (f" ({', '.join(names)})" if names else "")
            return Mismatch("type", f"returned {_describe(got)}, but {want} was expected")
        mags = magnitude if isinstance(magnitude, tuple) else (None,) * len(expected)
        wrong: list[Mismatch] = []
        for k, (g, e, m) in enumerate(zip(got, expected, mags)):
            name = names[k] if k < len(names) else f"item {k}"
            bad = compare(g, e, m, tol, (name,), notes, layouts, precision) if isinstance(e, tuple) else (
                compare_array(g, e, m, tol, name, notes, layouts.get(name, ()), precision)
                if isinstance(e, np.ndarray)
                else _named(compare_scalar(g, e, m if m is not None else abs(e), tol, notes, precision), name))
            if bad:
                wrong.append(bad)
        if len(wrong) > 1 and all(w.kind == "value" for w in wrong):
            # Every wrong output, each with its gate block or time step: together they
            # point at the mistake better than the first one alone.
            return Mismatch("value", "; ".join(w.message for w in wrong), wrong[0].error)
        return wrong[0] if wrong else None
    if isinstance(expected, np.ndarray):
        return compare_array(got, expected, magnitude, tol, notes=notes, layout=layouts.get("", ()),
                             precision=precision)
    return compare_scalar(got, float(expected), abs(magnitude if magnitude is not None else expected), tol, notes,
                          precision)


def _named(m: Mismatch | None, name: str) -> Mismatch | None:
    return None if m is None else Mismatch(m.kind, f"{name}: {m.message}", m.error)

"""Compare what a student's function returned with the expected value, and say why not.

The pass criterion is normwise: ‖got - expected‖ ≤ rtol·‖expected‖ + κ·ε·‖magnitude‖,
where ``magnitude`` is the size of the terms that make up the answer. An
element-wise relative test alone would fail correct answers wherever the
true gradient is tiny next to the terms that produce it, which is exactly what
happens when gates saturate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .sandbox import ExprTree, ExprTreeError, to_sympy

EPS = float(np.finfo(np.float64).eps)


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
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)) and value.dtype.kind in "iuf":
        return float(value.reshape(-1)[0])
    if isinstance(value, ExprTree) and not value.symbols:
        try:
            expr = to_sympy(value, {})
        except ExprTreeError:
            return None
        return float(expr) if expr.is_real and expr.is_finite else None
    return None


def compare_scalar(got: Any, expected: float, magnitude: float, tol: Tolerance) -> Mismatch | None:
    number = as_number(got)
    if number is None:
        return Mismatch("type", f"returned {_describe(got)}, but a real number was expected")
    if not np.isfinite(number):
        return Mismatch("nonfinite", f"returned {number}")
    err = abs(number - expected)
    if err > tol.bound(abs(expected), abs(magnitude)):
        return _value_mismatch("returned a wrong value", err / max(abs(expected), 1e-300))
    return None


# Below this relative error the formula is most likely right and its float64
# evaluation is what goes wrong; the student needs a different hint.
IMPRECISE = 1e-2


def _value_mismatch(text: str, relative: float) -> Mismatch:
    if relative < IMPRECISE:
        digits = max(0, int(-np.log10(max(relative, 1e-300))))
        # One point cannot tell a missing small term from lost precision: say both.
        text = (f"{text.replace('a wrong value', 'a value').replace('wrong values', 'values')} close to the "
                f"expected one but not within tolerance: right to about {digits} significant digits, where a "
                "correct float64 computation keeps about 15. Either a small term is missing, or the formula "
                "loses precision at these inputs (typically by subtracting nearly equal numbers)")
    return Mismatch("value", text, relative)


def compare_array(got: Any, expected: np.ndarray, magnitude: Any, tol: Tolerance, name: str = "") -> Mismatch | None:
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
        return Mismatch("shape", f"{label}returned shape {got.shape}, but shape {expected.shape} was expected")
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.isnan(got).any() else "inf"
        return Mismatch("nonfinite", f"{label}returned an array containing {bad}")
    diff = got.astype(float) - expected
    err = float(np.linalg.norm(diff))
    mag = float(np.linalg.norm(magnitude)) if magnitude is not None else float(np.linalg.norm(expected))
    if err > tol.bound(float(np.linalg.norm(expected)), mag):
        return _value_mismatch(f"{label}returned wrong values", err / max(float(np.linalg.norm(expected)), 1e-300))
    return None


def compare(got: Any, expected: Any, magnitude: Any, tol: Tolerance, names: tuple[str, ...] = ()) -> Mismatch | None:
    """Dispatch on the expected value's structure: number, array, or tuple of those."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            want = f"a tuple of {len(expected)} values" + (f" ({', '.join(names)})" if names else "")
            return Mismatch("type", f"returned {_describe(got)}, but {want} was expected")
        mags = magnitude if isinstance(magnitude, tuple) else (None,) * len(expected)
        for k, (g, e, m) in enumerate(zip(got, expected, mags)):
            name = names[k] if k < len(names) else f"item {k}"
            bad = compare(g, e, m, tol, (name,)) if isinstance(e, tuple) else (
                compare_array(g, e, m, tol, name) if isinstance(e, np.ndarray)
                else _named(compare_scalar(g, e, m if m is not None else abs(e), tol), name))
            if bad:
                return bad
        return None
    if isinstance(expected, np.ndarray):
        return compare_array(got, expected, magnitude, tol)
    return compare_scalar(got, float(expected), abs(magnitude if magnitude is not None else expected), tol)


def _named(m: Mismatch | None, name: str) -> Mismatch | None:
    return None if m is None else Mismatch(m.kind, f"{name}: {m.message}", m.error)

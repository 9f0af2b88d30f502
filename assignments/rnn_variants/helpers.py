# Helpers for this homework. sigmoid and tanh work on plain numbers, NumPy
# arrays and SymPy expressions alike, so the autograder can check an answer
# written with them symbolically. You do not need to know SymPy to use them.
import numpy as np


def _is_symbolic(z):
    return type(z).__module__.split(".")[0] == "sympy"


def sigmoid(z):
    """The logistic function 1 / (1 + exp(-z)), without overflow for large |z|."""
    if _is_symbolic(z):
        import sympy
        return sympy.Function("sigmoid")(z)
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(out) if out.ndim == 0 else out


def tanh(z):
    """The hyperbolic tangent."""
    if _is_symbolic(z):
        import sympy
        return sympy.tanh(z)
    out = np.tanh(np.asarray(z, dtype=float))
    return float(out) if out.ndim == 0 else out

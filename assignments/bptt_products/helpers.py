# Helpers for this lab: NumPy plus a sigmoid and a tanh that never overflow and also accept SymPy symbols.
import numpy as np


def _is_symbolic(z):
    return type(z).__module__.split(".")[0] == "sympy"


def sigmoid(z):
    """1 / (1 + exp(-z)), computed from exp(-|z|) so that no exponent overflows."""
    if _is_symbolic(z):
        import sympy
        return sympy.Function("sigmoid")(z)
    z = np.asarray(z, dtype=float)
    small = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))
    return float(out) if out.ndim == 0 else out


def tanh(z):
    """The hyperbolic tangent (NumPy's saturates to ±1 without overflowing)."""
    if _is_symbolic(z):
        import sympy
        return sympy.tanh(z)
    out = np.tanh(np.asarray(z, dtype=float))
    return float(out) if out.ndim == 0 else out

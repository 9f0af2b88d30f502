"""Reference gradients for LSTM/RNN homework, derived from forward equations rather than typed.

Symbolic (SymPy), any cell, any step::

    from reference import gradient, latex
    gradient("lstm", "C", at="t")             # ∇C_t for t < T, one chain-rule step
    gradient("lstm", "o", at="T", form="expanded")
    weight_gradient("lstm", "W_hi", steps=3)  # BPTT sum over a 3-step sequence
    one_step_jacobian("lstm", "C")            # ∂C_t/∂C_{t-1} through every gate
    latex(gradient("lstm", "C", at="t"))

Numeric, float64 or exact: ``reference.symbolic.evaluate`` (forward, backward,
evaluate). Vector and mini-batch NumPy references: ``reference.numeric``.
"""
from .symbolic.cells import CELLS, Cell, get_cell
from .symbolic.derive import gradient, latex, one_step_jacobian, unrolled, weight_gradient
from .symbolic.graph import Graph, grad_symbol
from .symbolic.primitives import sigmoid

__all__ = [
    "CELLS", "Cell", "Graph", "get_cell", "grad_symbol", "gradient", "latex",
    "one_step_jacobian", "sigmoid", "unrolled", "weight_gradient",
]

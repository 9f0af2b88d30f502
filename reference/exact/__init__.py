"""Exact references: every derived number exact, rounded to float64 once.

NumPy's exp, tanh and BLAS differ in their last bits between CPUs; nothing
graded may depend on that. The engines here take float64 leaves (weights,
inputs, upstream gradients, initial states), compute every derived quantity
exactly (fixed point on Python ints, exp from mpmath's fixed-point kernel; or
mpmath numbers), and round to float64 once; the fixed-point ones refuse a
rounding they cannot certify (then ``exactly`` recomputes at a finer precision).

- ``fixed``: the arithmetic: Fixed (σ and tanh with their derivatives, exact
  dot products), certified rounding, ``exactly``;
- ``lstm``: the homework LSTM (column vectors): forward, backward (BPTT, with
  a path dropped on request), the loss;
- ``scales``: the rounding-error scale of a correct float64 value-form BPTT;
- ``finite``: central differences of an exact loss, to 1e-22 relative;
- ``packed``, ``rnn``: the packed-layout LSTM and the vanilla RNN of the other packs.
"""
from .fixed import Fixed, PrecisionError, Raw, exactly

__all__ = ["Fixed", "PrecisionError", "Raw", "exactly"]

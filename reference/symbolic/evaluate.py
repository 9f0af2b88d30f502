"""Evaluate derived expressions: float64 through lambdify, or exactly through mpmath.

The exact path chooses its precision from the point itself. Near saturation
1 - σ(z) ≈ e^{-|z|}, so an expression like f(1 - f) loses about |z|/ln 10
digits to cancellation; the working precision grows with the largest
magnitude in the forward pass so that |pre-activation| up to 1000 still gives
every digit a float64 can hold.
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from functools import lru_cache
from typing import Mapping

import mpmath
import numpy as np
import sympy as sp

from reference.numeric.activations import sigmoid as np_sigmoid
from reference.numeric.activations import tanh as np_tanh

from .graph import Graph, grad_symbol
from .primitives import mp_sigmoid

FLOAT_MODULES = [{"sigmoid": np_sigmoid, "tanh": np_tanh}, "numpy"]
MP_MODULES = [{"sigmoid": mp_sigmoid, "tanh": mpmath.tanh}, "mpmath"]
GUARD_DIGITS = 30
ROUGH_DPS = 30   # enough to know the size of every forward quantity


@lru_cache(maxsize=4096)
def _compiled(expr: sp.Expr, args: tuple, exact: bool):
    return sp.lambdify(args, expr, modules=MP_MODULES if exact else FLOAT_MODULES)


def compile_expr(expr, args, exact: bool = False):
    """A callable evaluating ``expr`` at positional ``args`` (cached per expression)."""
    return _compiled(sp.sympify(expr), tuple(args), exact)


def required_dps(values) -> int:
    """Decimal digits that keep every digit of a float64 result when the largest
    |value| among the forward quantities is saturating the activations."""
    biggest = max((abs(float(v)) for v in values if math.isfinite(float(v))), default=0.0)
    return GUARD_DIGITS + 17 + int(math.ceil(biggest / math.log(10)))


def forward(graph: Graph, leaves: Mapping[sp.Symbol, float], exact: bool = False,
            dps: int | None = None, offsets: Mapping[sp.Symbol, object] | None = None) -> dict:
    """Values of every leaf and node of ``graph`` at a point.

    With ``exact`` the pass runs in mpmath at ``dps`` digits (chosen from a
    float64 pre-pass when not given) and the returned dict carries ``"dps"``.
    ``offsets`` nudges chosen nodes after they are computed, which is how a
    finite difference with respect to an intermediate quantity is taken.
    """
    offsets = offsets or {}
    missing = [s for s in graph.leaves() if s not in leaves]
    if missing:
        raise KeyError(f"point lacks values for {missing[:5]}")
    if exact and dps is None:
        # The precision comes from an mpmath pre-pass, never from float64 kernels,
        # whose last bits differ between CPUs.
        rough = forward(graph, leaves, exact=True, dps=ROUGH_DPS)
        dps = required_dps(v for k, v in rough.items() if k != "dps")
    env: dict = {}
    ctx = mpmath.workdps(dps) if exact else nullcontext()
    with ctx:
        for s, v in leaves.items():
            env[s] = mpmath.mpf(v) if exact else float(v)
        for node in graph.order:
            d = graph.defs[node]
            args = tuple(sorted(d.free_symbols, key=lambda s: s.name))
            env[node] = compile_expr(d, args, exact)(*(env[a] for a in args))
            if node in offsets:
                env[node] += offsets[node]
    if exact:
        env["dps"] = dps
    return env


def backward(graph: Graph, env: Mapping, exact: bool = False) -> dict:
    """Every gradient at the point of a forward pass ``env`` (which must also hold
    values for the upstream gradient symbols), by a reverse sweep over the
    one-step rules. This is numeric BPTT for any cell, without ever building the
    fully expanded expressions, whose size grows quickly with vector state."""
    env = dict(env)
    grads: dict = {}
    for sym in [*reversed(graph.order), *graph.leaves()]:
        if sym in graph.seeds and not graph.uses.get(sym):
            grads[sym] = env[graph.seeds[sym]]
        else:
            grads[sym] = evaluate(graph.one_step(sym), env, exact)
        env[grad_symbol(sym)] = grads[sym]
    return grads


def evaluate(expr, env: Mapping, exact: bool = False):
    """``expr`` at the values in ``env`` (a forward pass plus any gradient symbols).
    An exact evaluation reuses the forward pass's precision."""
    expr = sp.sympify(expr)
    args = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    missing = [a for a in args if a not in env]
    if missing:
        raise KeyError(f"no value for {missing[:5]}")
    fn = compile_expr(expr, args, exact)
    if exact:
        with mpmath.workdps(env["dps"]):
            return fn(*(env[a] for a in args))
    with np.errstate(all="raise"):
        return fn(*(env[a] for a in args))


def abs_form(expr: sp.Expr) -> sp.Expr:
    """Every term counted with its absolute value: the scale of the rounding error
    a float64 evaluation of ``expr`` may carry (1 - f becomes 1 + |f|)."""
    if expr.is_Add:
        return sp.Add(*[abs_form(a) for a in expr.args])
    if expr.is_Mul:
        return sp.Mul(*[abs_form(a) for a in expr.args])
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return abs_form(expr.base) ** expr.exp
    if expr.is_Number:
        return abs(expr)
    return sp.Abs(expr)

"""SymPy results as inert data: a whitelisted expression tree, and the way back.

A student's SymPy object cannot cross the process boundary (pickling it would
let the child choose what code the grader runs on unpickling), so the child
flattens it to nested lists naming only a handful of node types. Here the
grader rebuilds it by calling SymPy constructors itself; nothing the child sent
is ever parsed, evaluated or sympified.

Node forms (lists on the wire, tuples once frozen into an :class:`ExprTree`)::

    ["Add", a, b, ...]   ["Mul", a, b, ...]   ["Pow", base, exponent]
    ["exp", a]  ["log", a]  ["tanh", a]  ["sigmoid", a]
    ["Symbol", name]  ["Integer", n]  ["Rational", p, q]  ["Float", x]  ["E"]

Structure is checked here without importing SymPy, so the wire decoder can
reject a forged tree cheaply; SymPy itself is imported only by :func:`to_sympy`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

# The child enforces the same caps (the runner sends them in its config frame)
# so an honest child never sends a tree the parent then refuses. The depth cap
# also keeps the JSON decoder, which recurses, far from Python's stack limit.
MAX_NODES = 200_000
MAX_DEPTH = 400
# Integers are capped so that int<->str conversion never trips CPython's
# 4300-digit guard on either side of the pipe.
MAX_INT_DIGITS = 1000

UNARY = ("exp", "log", "tanh", "sigmoid")
NARY = ("Add", "Mul")
NODE_TYPES = frozenset(NARY + UNARY + ("Pow", "Symbol", "Integer", "Rational", "Float", "E"))


class ExprTreeError(ValueError):
    """A tree that cannot be turned back into an expression. ``culprit`` is the
    offending node, symbol name or value, for the grader's logs."""

    def __init__(self, message: str, culprit: Any = None):
        super().__init__(message)
        self.message = message
        self.culprit = culprit


@dataclass(frozen=True)
class ExprTree:
    """A validated, immutable expression tree returned by student code.
    Turn it into SymPy with :func:`to_sympy`."""

    tree: tuple

    @staticmethod
    def from_wire(raw: Any) -> "ExprTree":
        return ExprTree(check_tree(raw))

    @property
    def symbols(self) -> frozenset:
        """Names of the symbols the expression uses."""
        names, stack = set(), [self.tree]
        while stack:
            node = stack.pop()
            if node[0] == "Symbol":
                names.add(node[1])
            elif node[0] in NARY or node[0] in UNARY or node[0] == "Pow":
                stack.extend(node[1:])
        return frozenset(names)


def _is_int(v: Any) -> bool:
    return type(v) is int


def _check_leaf(node: tuple) -> None:
    kind, args = node[0], node[1:]
    if kind == "Symbol":
        ok = len(args) == 1 and type(args[0]) is str and 0 < len(args[0]) <= 200
    elif kind == "Integer":
        ok = len(args) == 1 and _is_int(args[0]) and _small_int(args[0])
    elif kind == "Rational":
        ok = (len(args) == 2 and all(_is_int(a) and _small_int(a) for a in args)
              and args[1] != 0)
    elif kind == "Float":
        ok = len(args) == 1 and type(args[0]) is float and math.isfinite(args[0])
    else:  # "E"
        ok = not args
    if not ok:
        raise ExprTreeError(f"malformed {kind} node {_short(node)}", node)


def _small_int(v: int) -> bool:
    # bit_length, not len(str(v)): converting a huge int to text is what we avoid.
    return v.bit_length() <= MAX_INT_DIGITS * 3.33


def _short(node: Any, limit: int = 80) -> str:
    text = repr(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_tree(raw: Any, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> tuple:
    """Validate a raw tree (lists or tuples) and return it as nested tuples.

    Iterative, so a deep tree costs heap, not stack. Raises ExprTreeError on an
    unknown node type, a bad leaf, a non-finite float or an oversize tree.
    """
    # Post-order rebuild: each stack entry is (node, depth, children_done).
    out: list = []
    stack: list = [(raw, 1, False)]
    count = 0
    while stack:
        node, depth, done = stack.pop()
        if done:
            n = len(node) - 1
            children = out[len(out) - n:] if n else []
            del out[len(out) - n:]
            out.append((node[0], *children))
            continue
        count += 1
        if count > max_nodes:
            raise ExprTreeError(f"expression has more than {max_nodes} nodes", count)
        if depth > max_depth:
            raise ExprTreeError(f"expression is nested more than {max_depth} levels deep", depth)
        if type(node) not in (list, tuple) or not node or type(node[0]) is not str:
            raise ExprTreeError(f"not an expression node: {_short(node)}", node)
        kind = node[0]
        if kind not in NODE_TYPES:
            raise ExprTreeError(f"node type {kind!r} is not allowed", kind)
        if kind in NARY or kind in UNARY or kind == "Pow":
            arity = len(node) - 1
            if (kind in UNARY and arity != 1) or (kind == "Pow" and arity != 2) or (
                    kind in NARY and arity < 2):
                raise ExprTreeError(f"{kind} node has {arity} arguments", node)
            stack.append((node, depth, True))
            for child in reversed(node[1:]):
                stack.append((child, depth + 1, False))
        else:
            _check_leaf(node)
            out.append(tuple(node))
    return out[0]


def _default_functions() -> dict[str, Callable]:
    import sympy

    def sigmoid(z):
        # 1/(1 + exp(-z)), built as unevaluated as the rest of the tree.
        minus = sympy.Mul(sympy.Integer(-1), z, evaluate=False)
        one_plus = sympy.Add(sympy.Integer(1), sympy.exp(minus, evaluate=False), evaluate=False)
        return sympy.Pow(one_plus, sympy.Integer(-1), evaluate=False)

    return {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sigmoid": sigmoid}


def _apply(function: Callable, arg):
    """``function(arg)``, unevaluated when the function is a SymPy class (its
    ``eval`` could otherwise do arithmetic on a huge argument in the grader)."""
    from sympy import FunctionClass

    if isinstance(function, FunctionClass):
        return function(arg, evaluate=False)
    return function(arg)


def to_sympy(tree: ExprTree | list | tuple, symbols: Mapping[str, Any],
             functions: Mapping[str, Callable] | None = None, *,
             max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH):
    """Rebuild a SymPy expression from a tree using SymPy constructors only.

    ``symbols`` maps each allowed name to the grader's own Symbol; any other
    name is an error, so a student cannot smuggle in a symbol the grader does
    not know about. ``functions`` overrides the callables used for exp, log,
    tanh and sigmoid (defaults: SymPy's, and 1/(1+exp(-z)) for sigmoid).

    Every node is built with ``evaluate=False``: SymPy's automatic evaluation
    would otherwise compute in the grader whatever the tree spells out
    (``10**(10**999)``, a product of a thousand sums, ...). The result is the
    student's expression exactly as written; doing arithmetic on it is the
    business of a time-boxed, memory-limited worker (grader/equivalence.py).
    """
    import sympy

    raw = tree.tree if isinstance(tree, ExprTree) else tree
    nodes = check_tree(raw, max_nodes=max_nodes, max_depth=max_depth)
    funcs = _default_functions()
    if functions:
        unknown = set(functions) - set(UNARY)
        if unknown:
            raise ExprTreeError(f"cannot override functions {sorted(unknown)}", unknown)
        funcs.update(functions)

    out: list = []
    stack: list = [(nodes, False)]
    while stack:
        node, done = stack.pop()
        kind = node[0]
        if done:
            n = len(node) - 1
            args = out[len(out) - n:]
            del out[len(out) - n:]
            if kind == "Add":
                out.append(sympy.Add(*args, evaluate=False))
            elif kind == "Mul":
                out.append(sympy.Mul(*args, evaluate=False))
            elif kind == "Pow":
                out.append(sympy.Pow(*args, evaluate=False))
            else:
                out.append(_apply(funcs[kind], args[0]))
        elif kind in NARY:
            # a + (b + c) as one Add(a, b, c): what evaluation used to do for
            # free, and without it a chain 400 deep would exhaust SymPy's own
            # recursion. Purely structural, and linear: each node is visited once.
            node = (kind, *_operands(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node[1:]))
        elif kind in UNARY or kind == "Pow":
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node[1:]))
        elif kind == "Symbol":
            if node[1] not in symbols:
                known = ", ".join(sorted(symbols)) or "none"
                raise ExprTreeError(
                    f"the expression uses a symbol named {node[1]!r}, but only these "
                    f"symbols are expected: {known}", node[1])
            out.append(symbols[node[1]])
        elif kind == "Integer":
            out.append(sympy.Integer(node[1]))
        elif kind == "Rational":
            out.append(sympy.Rational(node[1], node[2]))
        elif kind == "Float":
            out.append(sympy.Float(node[1]))
        else:  # "E"
            out.append(sympy.E)
    return out[0]


def _operands(node: tuple) -> list:
    """The operands of an Add (Mul) node with nested Adds (Muls) spliced in, in order."""
    kind, found = node[0], []
    stack = list(reversed(node[1:]))
    while stack:
        child = stack.pop()
        if child[0] == kind:
            stack.extend(reversed(child[1:]))
        else:
            found.append(child)
    return found

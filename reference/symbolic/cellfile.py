"""A recurrent cell declared in a small text file: the instructor's forward equations, no code.

The GRU of seed 000 as a file (``assignments/rnn_variants/gru.cell``)::

    # GRU (seed 000): s_t = z ⊙ s_{t-1} + (1 - z) ⊙ s̃
    name: gru_file
    state: s
    input: x
    output: s
    param: w_r, w_z, w : n x n
    param: u_r, u_z, u : n x m
    param: b_r, b_z, b : n
    latex: st = \\tilde{s}
    r = sigmoid(w_r*s + u_r*x + b_r)
    z = sigmoid(w_z*s + u_z*x + b_z)
    st = tanh(w*(r*s) + u*x + b)
    s = z*s + (1 - z)*st

Declarations are ``key: value`` lines (``state``, ``input``, ``output``, ``param``,
``latex``, ``name``, ``title``); every other non-blank line is an equation
``name = expression``. Equations run in order within one time step: a state
named on the right before its own equation is its value at t-1, after it the new
value (a peephole read gate can look at the new cell state). Shapes: a state
and every equation are n-vectors, the input an m-vector, a parameter ``n x n``,
``n x m``, ``p x n`` or a vector ``n``. In a product, weight matrices multiply,
in the written order, the elementwise (Hadamard) product of the other factors:
``w*(r*s)`` is W(r ⊙ s). Name an intermediate line for (W r) ⊙ s.

Expressions are read by SymPy's parser with only the declared names and
sigmoid (or σ), tanh, exp, log, numbers, + - * / and ** (or ^) in scope: an
undeclared name is an error with its line, never a new symbol.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError

import sympy as sp
from sympy.parsing.sympy_parser import auto_number, convert_xor, parse_expr

from .cells import CELLS, FILE_CELLS, Cell, Param
from .primitives import hadamard, sigmoid

FUNCTIONS = {"sigmoid": sigmoid, "σ": sigmoid, "tanh": sp.tanh, "exp": sp.exp, "log": sp.log}
# What parse_expr's generated code may call: numbers and the operators, nothing else.
PARSER_GLOBALS = {"Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
                  "Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow}
DECLARATIONS = ("name", "title", "state", "input", "output", "param", "latex")
DIMS = ("n", "m", "p", "1")
# Sizes for the dry run that catches a shape mistake at load time: all different,
# so an n x m weight applied to the state cannot pass by coincidence.
PROBE_DIMS = {"n": 2, "m": 3, "p": 4}
_DECL = re.compile(r"^([A-Za-z]+)\s*:\s*(.*)$")
_EQUATION = re.compile(r"^([^\W\d]\w*)\s*=\s*(.+)$")
_NAME = re.compile(r"^[^\W\d]\w*$")


class CellFileError(ValueError):
    """A cell file is wrong; the message names the file and the line."""

    def __init__(self, path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Equation:
    name: str
    expr: sp.Expr
    line: int
    text: str


@dataclass(frozen=True)
class CellSpec:
    """A parsed cell file."""

    name: str
    title: str
    state: tuple[str, ...]
    input: str
    output: str
    params: tuple[Param, ...]
    equations: tuple[Equation, ...]
    latex: tuple[tuple[str, str], ...]
    digest: str


def parse_cell_text(text: str, path: str | Path = "<cell>") -> CellSpec:
    name, title, inp, output = Path(path).stem, "", "x", ""
    states: list[str] = []
    params: list[Param] = []
    latex: list[tuple[str, str]] = []
    raw_equations: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        decl = _DECL.match(line)
        if decl and decl.group(1) in DECLARATIONS:
            key, value = decl.group(1), decl.group(2).strip()
            if key == "name":
                name = _names(path, number, value, one=True)[0]
            elif key == "title":
                title = value
            elif key == "state":
                states += _names(path, number, value)
            elif key == "input":
                inp = _names(path, number, value, one=True)[0]
            elif key == "output":
                output = _names(path, number, value, one=True)[0]
            elif key == "param":
                params += _params(path, number, value)
            else:
                latex += _latex(path, number, value)
            continue
        if decl and "=" not in line:
            raise CellFileError(path, number, f"unknown declaration {decl.group(1)!r}; "
                                f"declarations are {', '.join(DECLARATIONS)}")
        eq = _EQUATION.match(line)
        if not eq:
            raise CellFileError(path, number, f"expected 'name = expression' or a declaration "
                                f"({', '.join(DECLARATIONS)}), got {line!r}")
        raw_equations.append((number, eq.group(1), eq.group(2)))

    if not states:
        raise CellFileError(path, None, "declares no state (add a line such as 'state: s')")
    declared = [*states, inp, *(p.name for p in params)]
    clashes = sorted({n for n in declared if declared.count(n) > 1} | (set(declared) & set(FUNCTIONS)))
    if clashes:
        raise CellFileError(path, None, f"names declared twice or clashing with a function: {', '.join(clashes)}")
    symbols = {n: sp.Symbol(n, commutative=not _is_matrix(p)) for p in params for n in (p.name,)}
    symbols.update({n: sp.Symbol(n) for n in (*states, inp)})
    equations = []
    for number, lhs, rhs in raw_equations:
        if lhs in symbols and lhs not in states:
            raise CellFileError(path, number, f"{lhs!r} is declared as a {'parameter' if lhs != inp else 'input'} "
                                "and cannot be assigned")
        if lhs in FUNCTIONS:
            raise CellFileError(path, number, f"{lhs!r} is a function name")
        if any(e.name == lhs for e in equations):
            raise CellFileError(path, number, f"{lhs!r} is assigned twice in one step")
        expr = _parse(path, number, rhs, symbols)
        equations.append(Equation(lhs, expr, number, rhs))
        symbols.setdefault(lhs, sp.Symbol(lhs))
    defined = {e.name for e in equations}
    missing = [s for s in states if s not in defined]
    if missing:
        raise CellFileError(path, None, f"the state {', '.join(missing)} has no equation: a cell must compute "
                            "its new state at each step")
    if not output:
        raise CellFileError(path, None, "declares no output (add 'output: NAME', the quantity the loss reads)")
    if output not in defined:
        raise CellFileError(path, None, f"the output {output!r} is not computed by any equation; "
                            f"equations define {', '.join(e.name for e in equations)}")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    spec = CellSpec(name, title or f"{name} (declared in {Path(path).name})", tuple(states), inp, output,
                    tuple(params), tuple(equations), tuple(latex), digest)
    _dry_run(path, spec)
    return spec


def _names(path, number, value: str, one: bool = False) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if not _NAME.match(n)]
    if bad or not names or (one and len(names) != 1):
        what = "one name" if one else "comma-separated names"
        raise CellFileError(path, number, f"expected {what}, got {value!r}")
    return names


def _params(path, number, value: str) -> list[Param]:
    names, sep, shape = value.rpartition(":")
    if not sep:
        raise CellFileError(path, number, f"expected 'param: NAMES : SHAPE' (such as 'param: w, v : n x n'), got {value!r}")
    dims = [d.strip() for d in re.split(r"\s*(?:x|×|,|\*)\s*", shape.strip()) if d.strip()]
    if len(dims) == 1:
        dims.append("1")
    if len(dims) != 2 or any(d not in DIMS for d in dims) or dims[0] == "1":
        raise CellFileError(path, number, f"a shape is 'n x n', 'n x m', 'p x n' or a vector 'n' "
                            f"(dimensions {', '.join(DIMS[:3])}), got {shape.strip()!r}")
    return [Param(n, _default_latex(n), (dims[0], dims[1])) for n in _names(path, number, names)]


def _latex(path, number, value: str) -> list[tuple[str, str]]:
    out = []
    for part in value.split(","):
        name, sep, tex = part.partition("=")
        if not sep or not _NAME.match(name.strip()) or not tex.strip():
            raise CellFileError(path, number, f"expected 'latex: NAME = TEX, ...', got {value!r}")
        out.append((name.strip(), tex.strip()))
    return out


def _default_latex(name: str) -> str:
    """w_r is written w_{r}, as the built-in cells write their parameters."""
    head, sep, tail = name.partition("_")
    return f"{head}_{{{tail}}}" if sep and tail else name


def _is_matrix(p: Param) -> bool:
    return p.shape[1] != "1"


def _parse(path, number, text: str, symbols: dict) -> sp.Expr:
    local = {**symbols, **FUNCTIONS}
    source = text.replace("⊙", "*").replace("×", "*").replace("·", "*").replace("−", "-")
    try:
        # An empty __builtins__: eval would otherwise add Python's own (__import__, open ...).
        expr = parse_expr(source, local_dict=local, global_dict={**PARSER_GLOBALS, "__builtins__": {}},
                          transformations=(auto_number, convert_xor), evaluate=False)
    except NameError as exc:
        unknown = re.search(r"name '(.+?)' is not defined", str(exc))
        known = ", ".join(sorted(symbols)) + "; functions: sigmoid (σ), tanh, exp, log"
        name = unknown.group(1) if unknown else str(exc)
        raise CellFileError(path, number, f"unknown name {name!r} in {text.strip()!r}; known names: {known}") from None
    except (SyntaxError, TypeError, ValueError, TokenError) as exc:
        raise CellFileError(path, number, f"cannot read {text.strip()!r}: {exc}") from None
    if not isinstance(expr, sp.Expr):
        raise CellFileError(path, number, f"{text.strip()!r} is not an expression of the declared names")
    return expr


# --- from equations to the engine's matrices ---------------------------------------

class _Interpreter:
    """Evaluates a parsed equation on matrices: column vectors elementwise, weights as
    matrix products, numbers broadcast."""

    def __init__(self, path, equation: Equation, env: dict, n: int):
        self.path, self.eq, self.env, self.n = path, equation, env, n

    def fail(self, message: str):
        raise CellFileError(self.path, self.eq.line, f"{message} in {self.eq.text.strip()!r}")

    def __call__(self, expr):
        if self.is_weight(expr):
            self.fail(f"the weight matrix {expr} on its own (a weight must multiply a vector)")
        if expr.is_Symbol:
            return self.env[expr.name]
        if expr.is_Number:
            return expr
        if isinstance(expr, sp.Add):
            total = None
            for term in map(self, expr.args):
                total = term if total is None else self.add(total, term)
            return total
        if isinstance(expr, sp.Mul):
            return self.mul(expr)
        if isinstance(expr, sp.Pow):
            if not expr.exp.is_Number:
                self.fail("a power needs a number exponent")
            base = self(expr.base)
            return base.applyfunc(lambda v: v ** expr.exp) if isinstance(base, sp.MatrixBase) else base ** expr.exp
        if isinstance(expr, sp.Function) and len(expr.args) == 1:
            arg = self(expr.args[0])
            return arg.applyfunc(expr.func) if isinstance(arg, sp.MatrixBase) else expr.func(arg)
        self.fail(f"unsupported expression {expr}")

    @staticmethod
    def is_weight(expr) -> bool:
        """Weight matrices are the declared noncommutative symbols."""
        return expr.is_Symbol and not expr.is_commutative

    def add(self, a, b):
        if isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase):
            if a.shape != b.shape:
                self.fail(f"adding vectors of sizes {a.rows} and {b.rows}")
            return a + b
        if isinstance(a, sp.MatrixBase):
            return a + b * sp.ones(*a.shape)
        if isinstance(b, sp.MatrixBase):
            return b + a * sp.ones(*b.shape)
        return a + b

    def mul(self, expr):
        """Weights are the noncommutative factors (SymPy keeps their order); the
        commutative ones are vectors and numbers, multiplied elementwise."""
        scalar, vector, weights = sp.Integer(1), None, []
        for factor in expr.args:
            if self.is_weight(factor):
                weights.append(factor)
                continue
            value = self(factor)
            if isinstance(value, sp.MatrixBase):
                if vector is not None and vector.shape != value.shape:
                    self.fail(f"an elementwise product of vectors of sizes {vector.rows} and {value.rows}")
                vector = value if vector is None else hadamard(vector, value)
            else:
                scalar *= value
        if weights:
            if vector is None:
                self.fail("a weight matrix multiplies nothing (it needs a vector on its right)")
            for w in reversed(weights):
                m = self.env[w.name]
                if m.cols != vector.rows:
                    self.fail(f"a {m.rows} x {m.cols} weight applied to a vector of size {vector.rows}")
                vector = m * vector
        if vector is None:
            return scalar
        return vector if scalar == 1 else vector * scalar


def build_step(spec: CellSpec, path="<cell>"):
    """The cell's ``step``: the equations in order, each a node of the unrolled graph."""
    def step(b):
        env = {s: b.prev(s) for s in spec.state}
        env[spec.input] = b.x
        env.update({p.name: b.p(p.name) for p in spec.params})
        n = next(iter(env.values())).rows
        for eq in spec.equations:
            value = _Interpreter(path, eq, env, n)(eq.expr)
            if not isinstance(value, sp.MatrixBase):
                value = value * sp.ones(n, 1)   # a constant equation is a constant vector
            env[eq.name] = b.node(eq.name, value)
        for s in spec.state:
            if env[s].rows != n:
                raise CellFileError(path, None, f"the new state {s!r} has size {env[s].rows}, not n")
    return step


def cell_from_spec(spec: CellSpec, path="<cell>", name: str | None = None) -> Cell:
    return Cell(name=name or spec.name, title=spec.title, source=f"{Path(path).name} sha256:{spec.digest[:16]}",
                state=spec.state, params=spec.params, output=spec.output, step=build_step(spec, path),
                latex=spec.latex)


def _dry_run(path, spec: CellSpec) -> None:
    """Unroll two steps at distinct sizes so that shape mistakes surface now, with their line."""
    from .graph import Graph

    try:
        Graph(cell_from_spec(spec, path), ("0", "1", "2"), PROBE_DIMS)
    except CellFileError:
        raise
    except ValueError as exc:
        raise CellFileError(path, None, str(exc)) from None


def load_cell_file(path: str | Path) -> Cell:
    """Parse ``path`` and register its cell (so that unrolled(name, ...) finds it); the
    registered name is the file's ``name:``, suffixed by its digest only when another
    definition (a built-in cell, or another file) already holds that name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CellFileError(path, None, f"cannot read the cell file: {exc.strerror or exc}") from None
    spec = parse_cell_text(text, path)
    name = spec.name
    existing = CELLS.get(name) or FILE_CELLS.get(name)
    if existing is not None and not existing.source.endswith(spec.digest[:16]):
        name = f"{spec.name}~{spec.digest[:8]}"
    if name not in FILE_CELLS:
        FILE_CELLS[name] = cell_from_spec(spec, path, name)
    return FILE_CELLS[name]

"""Run untrusted student code out of the grader's process.

    with Sandbox(submission.cells, protected=[reference_dir]) as box:
        setup = box.setup()                      # runs every cell once
        result = box.call("lstm_step", [x, h, c])
        if result.status == "ok": ...            # result.value is plain data
        results = box.call_many("lstm_step", cases, timeouts=[1.0, 30.0])  # a limit per call

Only plain data comes back (see wire.py); SymPy results arrive as
:class:`ExprTree` and are rebuilt by the grader with :func:`to_sympy`.
"""
from .exprtree import ExprTree, ExprTreeError, to_sympy
from .process import SandboxError
from .staging import RunAs
from .zygote import shutdown
from .runner import CallResult, CellOutcome, Limits, Sandbox, Setup
from .wire import Symbol, WireError

__all__ = [
    "CallResult", "CellOutcome", "ExprTree", "ExprTreeError", "Limits", "RunAs", "Sandbox",
    "SandboxError", "Setup", "Symbol", "WireError", "shutdown", "to_sympy",
]

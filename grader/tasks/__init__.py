"""Numeric references for questions whose answer is not a single derived expression.

Every task follows the protocol of ``grader.tasks.base``: ``case(rng, regime)``
returns a ``TaskCase`` (the student's arguments as plain data, the exact
expected value, the magnitude that scales the absolute tolerance, a label a
student can read, the case's cost, and the reference with one path dropped).
Tasks that support ``gradcheck`` also provide ``finite_difference(args)``, the
central difference of the exact *forward* pass alone, in mpmath.

Each module of this package exports a ``TASKS`` dict (name -> class); they are
collected here, so adding an assignment's tasks means adding a module.
"""
from __future__ import annotations

import importlib
import pkgutil

TASKS: dict[str, type] = {}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _cls in getattr(_module, "TASKS", {}).items():
        if _name in TASKS:
            raise ImportError(f"task {_name!r} is defined twice ({TASKS[_name].__module__} and {_module.__name__})")
        TASKS[_name] = _cls

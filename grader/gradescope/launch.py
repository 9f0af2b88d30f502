"""run_autograder's entry point: ``python source/grader/gradescope/launch.py [--self-check]``.

``python -m grader.gradescope.run`` would first execute grader/__init__.py,
which imports the whole grading engine, SymPy included: about 75 MB of a
768 MB container and 1.5 s of half a CPU, in a process that only waits for
the worker. Registering ``grader`` as a bare package skips that __init__; the
worker, a fresh interpreter, imports the engine the ordinary way.
"""
import sys
import types
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]


def bare_package() -> None:
    # sys.path[0] is this script's folder, whose modules are not top-level ones.
    sys.path[0] = str(SOURCE)
    package = types.ModuleType("grader")
    package.__path__ = [str(SOURCE / "grader")]
    sys.modules["grader"] = package


if __name__ == "__main__":
    bare_package()
    from grader.gradescope.run import main

    sys.exit(main())

"""Student code that misbehaves: the grader survives, blames the right cell or
call with a message the student can act on, and keeps grading the rest."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from grader.sandbox import Limits, Sandbox, SandboxError

from .conftest import FAST, cells


def statuses(setup):
    return [(c.number, c.status) for c in setup.cells]


def test_infinite_loop_at_top_level_times_out_that_cell_and_later_functions_still_work(
        make_sandbox):
    box = make_sandbox("def before(): return 1", "while True:\n    pass", "def after(): return 2")
    start = time.monotonic()
    setup = box.setup()
    assert time.monotonic() - start < 1.0 + FAST.grace + 1.0
    assert statuses(setup) == [(1, "ok"), (2, "timeout"), (3, "ok")]
    assert re.fullmatch(r"did not finish within 1 s \(stopped at cell 2, line [12]\); anything "
                        r"the cell defines after that point is missing", setup.cells[1].message)
    assert [box.call("before").value, box.call("after").value] == [1, 2]


def test_infinite_loop_in_a_function_times_out_on_every_call_each_with_its_own_message(
        make_sandbox):
    box = make_sandbox("""
        def spin(n):
            total = 0
            while True:
                total += n
        def fine(): return "fine"
        """)
    first = box.call("spin", [1])
    assert first.status == "timeout"
    assert re.fullmatch(r"did not finish within 1 s \(stopped at cell 1, line [45]\)", first.message)
    again = box.call_many("spin", [[2], [3]], timeouts=[0.2, 0.3])
    assert [r.status for r in again] == ["timeout", "timeout"]
    assert re.fullmatch(r"did not finish within 0.2 s \(stopped at cell 1, line [45]\)",
                        again[0].message)
    assert re.fullmatch(r"did not finish within 0.3 s \(stopped at cell 1, line [45]\)",
                        again[1].message)
    assert box.call("fine").value == "fine"
    assert box.setup().restarts == 0  # the soft timeout kept the child alive


def test_loop_that_ignores_the_soft_timeout_is_killed_by_the_parent_and_the_child_replaced(
        make_sandbox):
    box = make_sandbox("""
        import signal
        calls = []
        def stubborn():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        def swallow():
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        def count():
            calls.append(1)
            return len(calls)
        """)
    assert box.call("count").value == 1
    start = time.monotonic()
    result = box.call("stubborn")
    assert time.monotonic() - start < FAST.call_timeout + FAST.grace + 0.5
    assert (result.status, result.message) == ("timeout", "did not finish within 1 s; it was stopped")
    assert box.call("count").value == 1  # a fresh child, setup replayed
    assert box.setup().restarts == 1
    assert box.call("swallow").status == "timeout"
    assert box.call("count").value == 1
    assert box.setup().restarts == 2


def test_setup_as_a_whole_is_bounded_by_setup_timeout(make_sandbox):
    limits = Limits(cell_timeout=1.0, setup_timeout=1.5, call_timeout=1.0, grace=0.5)
    box = make_sandbox("import time\ntime.sleep(0.9)", "time.sleep(0.9)", "time.sleep(0.9)",
                       "def f(): return 1", limits=limits)
    start = time.monotonic()
    setup = box.setup()
    assert time.monotonic() - start < 1.5 + 0.5 + 0.5
    assert statuses(setup) == [(1, "ok"), (2, "timeout"), (3, "timeout"), (4, "timeout")]
    assert setup.cells[3].message == "did not run: the notebook took more than 1.5 s in total"


@pytest.mark.parametrize("bomb, note", [
    ("x = bytearray(2 ** 40)\ny = 1",
     "cell 1, line 1 (`x = bytearray(2 ** 40)`): ran out of memory (the limit is 1024 MB); "
     "the rest of the cell still ran"),
    ("import numpy as np\nx = np.ones((50_000, 50_000))\ny = 1",
     "cell 1, line 2 (`x = np.ones((50_000, 50_000))`): ran out of memory (the limit is 1024 MB); "
     "the rest of the cell still ran"),
    ("import numpy as np\nchunks = []\nwhile True:\n    chunks.append(np.empty(10 ** 7))\n"
     "del chunks\ny = 1",
     "cell 1, line 3 (`while True:`): ran out of memory (the limit is 1024 MB) (raised at cell 1, "
     "line 4); the rest of the cell still ran"),
])
def test_memory_bomb_in_a_statement_costs_that_statement_and_the_child_survives(
        make_sandbox, bomb, note):
    # Touching a gigabyte takes a while on a loaded machine: give it time.
    box = make_sandbox(bomb, "def f(): return ('still here', y)", limits=Limits(cell_timeout=5.0))
    setup = box.setup()
    assert (setup.cells[0].status, setup.cells[0].notes) == ("ok", (note,))
    assert box.call("f").value == ("still here", 1)


def test_memory_bomb_in_a_function_is_a_memory_result(make_sandbox):
    box = make_sandbox("import numpy as np\ndef grow(n):\n    return np.zeros((n, n)).sum()")
    result = box.call("grow", [100_000])
    assert (result.status, result.message) == (
        "memory", "ran out of memory (the limit is 1024 MB) (cell 1, line 3)")
    assert box.call("grow", [3]).value == 0.0


def test_deep_recursion_is_an_error_with_the_line(make_sandbox):
    box = make_sandbox("def down(n):\n    return down(n + 1)")
    result = box.call("down", [0])
    assert (result.status, result.message) == (
        "error", "raised RecursionError: maximum recursion depth exceeded (cell 1, line 2)")


def test_unbounded_recursion_with_a_raised_limit_does_not_take_the_grader_down(make_sandbox):
    box = make_sandbox("import sys\nsys.setrecursionlimit(10 ** 9)\n"
                       "def down(n):\n    return [n] + down(n + 1)", "def ok(): return 1")
    result = box.call("down", [0])
    assert result.status in ("memory", "crash", "error", "timeout"), result
    assert result.message
    assert box.call("ok").value == 1


def test_os_exit_in_a_cell_is_a_crash_for_that_cell_and_later_cells_run_in_a_new_child(
        make_sandbox):
    box = make_sandbox("x = 1", "import os\nos._exit(0)", "y = x + 1\ndef f(): return y")
    setup = box.setup()
    assert statuses(setup) == [(1, "ok"), (2, "crash"), (3, "ok")]
    assert setup.cells[1].message == ("the Python process running your code ended (exit code 0); "
                                      "was os._exit() called?")
    assert (setup.restarts, setup.skipped) == (1, (2,))
    assert box.call("f").value == 2


def test_os_exit_in_a_function_is_a_crash_and_the_next_call_gets_a_new_child(make_sandbox):
    box = make_sandbox("import os\ndef quit(code): os._exit(code)\ndef f(): return 5")
    result = box.call("quit", [7])
    assert (result.status, result.message) == (
        "crash", "the Python process running your code ended (exit code 7); was os._exit() called?")
    assert box.call("f").value == 5


def test_sys_exit_in_a_cell_is_reported_and_does_not_stop_later_cells(make_sandbox):
    box = make_sandbox("import sys\nprint('before')\nsys.exit()\nprint('after')", "exit(3)",
                       "def f(): return 'ran'")
    setup = box.setup()
    assert statuses(setup) == [(1, "error"), (2, "error"), (3, "ok")]
    assert setup.cells[0].message == ("called sys.exit() (cell 1, line 3); "
                                      "the rest of the cell was skipped")
    assert setup.cells[0].output == "before\n"
    assert setup.cells[1].message == "called sys.exit(3) (cell 2, line 1); the rest of the cell was skipped"
    assert box.call("f").value == "ran"
    assert setup.restarts == 0


def test_sys_exit_in_a_function_is_an_error(make_sandbox):
    box = make_sandbox("import sys\ndef f():\n    sys.exit(1)")
    assert box.call("f").message == "called sys.exit(1) (cell 1, line 3) instead of returning a value"


def test_segfault_and_sigkill_are_crashes_naming_the_signal(make_sandbox):
    box = make_sandbox("""
        import faulthandler, os, signal
        def segfault(): faulthandler._sigsegv()
        def sigkill(): os.kill(os.getpid(), signal.SIGKILL)
        def f(): return 1
        """)
    assert box.call("segfault").message == ("the Python process running your code ended "
                                            "abruptly (SIGSEGV)")
    assert box.call("sigkill").message == ("the Python process running your code ended "
                                           "abruptly (SIGKILL)")
    assert box.call("f").value == 1


def test_exceptions_at_import_time_and_syntax_errors_point_at_the_cell_line_and_statement(
        make_sandbox):
    box = make_sandbox("import numpy as np\nimport no_such_module_anywhere",
                       "def f(:\n    pass",
                       "x = np.ones(2)\n\n\nx.dot(np.ones(3))",
                       "def g(): return 1")
    setup = box.setup()
    assert statuses(setup) == [(1, "ok"), (2, "ok"), (3, "ok"), (4, "ok")]
    assert [c.notes for c in setup.cells] == [
        ("cell 1, line 2 (`import no_such_module_anywhere`): ModuleNotFoundError: No module named "
         "'no_such_module_anywhere'",),
        ("cell 2, lines 1-2 (`def f(:`): SyntaxError: invalid syntax at line 1; these lines were "
         "skipped, so f is not defined",),
        ("cell 3, line 4 (`x.dot(np.ones(3))`): ValueError: shapes (2,) and (3,) not aligned: "
         "2 (dim 0) != 3 (dim 0)",),
        (),
    ]
    assert setup.functions == (("g", ()),)


def test_error_inside_a_called_function_names_the_innermost_student_line():
    box = Sandbox(cells("import numpy as np\n\ndef inner(a):\n    return a @ np.ones(3)",
                        "def outer(a):\n    return inner(a) + 1", first=6), limits=FAST)
    with box:
        result = box.call("outer", [np.ones(2)])
    assert result.status == "error"
    assert result.message.startswith("raised ValueError: matmul: Input operand 1 has a mismatch")
    assert result.message.endswith("(cell 6, line 4)")


def test_printing_100_megabytes_is_capped_and_fast(make_sandbox):
    box = make_sandbox("print('x' * 100_000_000)\nfor i in range(100_000): print(i)",
                       "import sys\ndef chatty():\n    sys.stdout.write('y' * 10 ** 8)\n    return 1")
    start = time.monotonic()
    setup = box.setup()
    output = setup.cells[0].output
    assert output.startswith("x" * 100) and len(output) < FAST.output_bytes + 100
    assert output.endswith("[... 100568891 more characters of output not shown]")
    result = box.call("chatty")
    assert result.value == 1 and len(result.output) < FAST.output_bytes + 100
    assert time.monotonic() - start < 5


def test_monkeypatching_numpy_and_builtins_in_the_child_breaks_nothing_outside_it(make_sandbox):
    box = make_sandbox("""
        import builtins, json, numpy as np
        np.array = np.zeros = None
        builtins.isinstance = lambda *a: True
        builtins.len = lambda x: 0
        builtins.print = None
        def grads():
            return {"W": np.ones((2, 2)), "b": [1.0, float("nan")], "n": len("abc")}
        """)
    result = box.call("grads")
    assert result.status == "ok", result.message
    assert result.value["n"] == 0 and result.value["W"].shape == (2, 2)
    assert np.array is not None and np.zeros(2).tolist() == [0.0, 0.0]
    assert isinstance(1, str) is False and len("abc") == 3


@pytest.mark.parametrize("where", ["cell", "function"])
def test_garbage_written_to_the_protocol_pipes_is_a_crash_not_a_grader_failure(make_sandbox, where):
    write = ("import os\n"
             "for fd in range(3, 20):\n"
             "    try:\n"
             "        os.write(fd, b'\\x00\\x00\\x00\\x05hello' + b'garbage' * 1000)\n"
             "    except OSError:\n"
             "        pass\n")
    if where == "cell":
        box = make_sandbox(write, "def f(): return 1")
        setup = box.setup()
        assert setup.cells[0].status == "crash"
        message = setup.cells[0].message
    else:
        box = make_sandbox("def attack():\n" + "".join("    " + line + "\n" for line in write.splitlines()),
                           "def f(): return 1")
        message = box.call("attack").message
    assert message.startswith("the process running your code sent the grader data it could not read")
    assert box.call("f").value == 1


def test_forged_reply_with_a_huge_length_prefix_is_refused_without_reading_it(make_sandbox):
    box = make_sandbox("""
        import os
        def attack():
            for fd in range(3, 30):
                try:
                    os.write(fd, (2 ** 31).to_bytes(4, "big"))
                except OSError:
                    pass
        """)
    result = box.call("attack")
    assert result.status == "crash"
    assert "a frame of 2147483648 bytes, over the 67108864 limit" in result.message


def test_matplotlib_is_harmless_when_installed(make_sandbox):
    """Importing pyplot reads the grader's prepared font cache: no thread, no file
    written outside the child's folder. (Importing pyplot takes a second or two,
    so the cell gets an ordinary budget rather than the hostile-case one.)"""
    pytest.importorskip("matplotlib")
    box = make_sandbox("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
                       limits=Limits(cell_timeout=60.0, setup_timeout=90.0))
    assert box.setup().cells[0].status == "ok"


def test_preamble_helpers_are_visible_to_cells_but_not_listed_as_student_functions(make_sandbox):
    box = make_sandbox("def mine(): return helper() + 1",
                       preamble="def helper():\n    return 41\nclass Tool: pass")
    setup = box.setup()
    assert setup.functions == (("mine", ()),)
    assert box.call("mine").value == 42


def test_a_failing_preamble_is_a_grader_error_not_the_students(make_sandbox):
    box = make_sandbox("x = 1", preamble="import no_such_grader_helper")
    with pytest.raises(SandboxError, match="the grader's preamble failed: raised ModuleNotFoundError"):
        box.setup()


def test_functions_list_names_and_parameters_of_what_the_student_defined(make_sandbox):
    box = make_sandbox("""
        from numpy import exp
        import math
        def lstm_step(x, h_prev, c_prev, *params, scale=1.0, **extra): pass
        sigmoid = lambda z: 1 / (1 + exp(-z))
        class Cell:
            def __init__(self, size): pass
        value = 3
        """)
    setup = box.setup()
    assert setup.functions == (
        ("lstm_step", ("x", "h_prev", "c_prev", "*params", "scale", "**extra")),
        ("sigmoid", ("z",)), ("Cell", ("size",)))
    assert setup.has("sigmoid") and not setup.has("exp")
    assert setup.signature("Cell") == ("size",) and setup.signature("value") is None


def test_calling_something_undefined_or_not_callable_is_an_error_with_advice(make_sandbox):
    box = make_sandbox("value = 3")
    assert box.call("lstm_step").message == (
        "lstm_step is not defined in your notebook (check its name and that the cell defining "
        "it runs without errors)")
    assert box.call("value").message == "value is defined in your notebook but is a int, not a function"


def test_restarts_are_capped_so_a_crashing_function_cannot_stall_grading(make_sandbox):
    limits = Limits(cell_timeout=1.0, call_timeout=1.0, setup_timeout=10.0, grace=0.5, restarts=2)
    box = make_sandbox("import os\ndef die(): os._exit(1)", limits=limits)
    results = [box.call("die") for _ in range(4)]
    assert [r.status for r in results] == ["crash"] * 4
    assert [r.message for r in results[2:]] == [
        "the Python process running your code ended (exit code 1); was os._exit() called?",
        "was not run: your code crashed too many times"]
    assert box.setup().restarts == 2  # the third death left no child, and none was started


def test_call_many_gives_each_call_its_own_budget_and_reports_each_result(make_sandbox):
    box = make_sandbox("""
        def maybe_spin(n):
            while n < 0:
                pass
            return n * 10
        """)
    results = box.call_many("maybe_spin", [[1], [2], [-1], [3]])
    assert [r.status for r in results] == ["ok", "ok", "timeout", "ok"]
    assert [r.value for r in results] == [10, 20, None, 30]
    assert re.fullmatch(r"did not finish within 1 s \(stopped at cell 1, line [23]\)",
                        results[2].message)


def test_a_child_killed_after_filling_its_memory_is_a_memory_result(make_sandbox):
    # What the kernel's OOM killer does, done by hand: SIGKILL once the
    # resident size passes half the limit. Outside namespaces only: bwrap's
    # monitor exits without reaping the namespace's init, so wait4 on it sees
    # bwrap's own peak, not the child's (the kill is then reported as a crash).
    limits = Limits(call_timeout=10.0, memory_bytes=512 << 20, layers=("landlock", "seccomp"))
    box = make_sandbox("""
        import os, signal
        import numpy as np
        def hog():
            block = np.ones((300 << 20) // 8)
            os.kill(os.getpid(), signal.SIGKILL)
        """, limits=limits)
    result = box.call("hog")
    assert result.status == "memory"
    assert re.fullmatch(r"was killed \(SIGKILL\) after using \d+ MB of memory", result.message)


def test_replaying_setup_after_a_crash_skips_cells_that_timed_out_before(make_sandbox):
    limits = Limits(cell_timeout=2.5, call_timeout=1.0, grace=0.5)
    box = make_sandbox("while True:\n    pass", "import os\ndef die(): os._exit(1)",
                       "def f(): return 'replayed'", limits=limits)
    assert statuses(box.setup()) == [(1, "timeout"), (2, "ok"), (3, "ok")]
    assert box.call("die").status == "crash"
    start = time.monotonic()
    assert box.call("f").value == "replayed"
    assert time.monotonic() - start < 2.0  # the looping cell was not run again
    setup = box.setup()
    assert (setup.restarts, setup.skipped) == (1, (1,))
    assert statuses(setup) == [(1, "timeout"), (2, "ok"), (3, "ok")]

"""Parent-side guarantees that need no hostile student: start-up failures are
the grader's errors, the CPU backstop works, and the costs stay small."""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Limits, Sandbox, SandboxError, runner, staging, zygote

from .conftest import cells

FIXTURES = Path(__file__).with_name("fixtures")


def test_a_child_that_cannot_start_is_a_sandbox_error_carrying_its_stderr(make_sandbox, monkeypatch):
    monkeypatch.setattr(staging, "CHILD_SCRIPT", FIXTURES / "broken_child.py")
    box = make_sandbox("x = 1", limits=Limits(warm=False))
    with pytest.raises(SandboxError, match="the sandbox child did not start") as info:
        box.setup()
    assert info.value.detail == "ModuleNotFoundError: No module named 'numpy'"


def test_a_template_that_cannot_start_is_a_sandbox_error_carrying_its_stderr(monkeypatch):
    monkeypatch.setattr(staging, "CHILD_SCRIPT", FIXTURES / "broken_child.py")
    with pytest.raises(SandboxError, match="the sandbox template did not start") as info:
        Sandbox(cells("x = 1")).setup()
    assert info.value.detail == "ModuleNotFoundError: No module named 'numpy'"


def test_a_child_that_hangs_before_the_handshake_is_killed_within_the_setup_budget(
        make_sandbox, monkeypatch):
    monkeypatch.setattr(staging, "CHILD_SCRIPT", FIXTURES / "silent_child.py")
    monkeypatch.setattr(runner, "HANDSHAKE_SECONDS", 1.0)
    box = make_sandbox("x = 1", limits=Limits(setup_timeout=1.0, grace=0.5, warm=False))
    start = time.monotonic()
    with pytest.raises(SandboxError, match="did not start"):
        box.setup()
    assert time.monotonic() - start < 3


def test_a_template_that_hangs_before_it_is_ready_is_given_up_after_its_start_time(monkeypatch):
    monkeypatch.setattr(staging, "CHILD_SCRIPT", FIXTURES / "silent_child.py")
    monkeypatch.setattr(zygote, "START_SECONDS", 1.0)
    start = time.monotonic()
    with pytest.raises(SandboxError, match=r"the sandbox template did not start \(it did not "
                                           r"answer in time\)"):
        Sandbox(cells("x = 1")).setup()
    assert time.monotonic() - start < 3


def test_cpu_limit_backstop_ends_a_child_that_outlives_every_timer(make_sandbox):
    limits = Limits(cell_timeout=5.0, call_timeout=5.0, setup_timeout=10.0, cpu_seconds=1)
    box = make_sandbox("""
        import signal
        def burn():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        """, limits=limits)
    start = time.monotonic()
    result = box.call("burn")
    assert (result.status, result.message) == ("timeout", "used more than 1 s of CPU time")
    assert time.monotonic() - start < 4


def test_closing_the_protocol_pipes_from_student_code_is_a_crash(make_sandbox):
    box = make_sandbox("""
        import os
        def cut():
            for fd in range(3, 30):
                try:
                    os.close(fd)
                except OSError:
                    pass
            return 1
        def f(): return 2
        """)
    result = box.call("cut")
    assert result.status == "crash"
    assert result.message.startswith("the Python process running your code ended")
    assert box.call("f").value == 2


def test_startup_and_call_costs_stay_small(make_sandbox):
    """Loose bounds (a loaded CI machine is slow); the report quotes real numbers."""
    box = make_sandbox("import numpy as np\ndef step(x, W):\n    return np.tanh(W @ x)")
    start = time.monotonic()
    box.setup()
    startup = time.monotonic() - start
    x, W = np.ones(8), np.ones((8, 8))
    box.call("step", [x, W])
    start = time.monotonic()
    for _ in range(200):
        box.call("step", [x, W])
    per_call = (time.monotonic() - start) / 200
    start = time.monotonic()
    results = box.call_many("step", [[x, W]] * 200)
    per_batched = (time.monotonic() - start) / 200
    assert all(r.status == "ok" for r in results)
    assert startup < 3.0 and per_call < 0.02 and per_batched < 0.02


def test_numpy_overflow_during_a_call_is_reported_as_a_warning(make_sandbox):
    """A naive sigmoid at z = -1000 overflows in exp: the grader is told, so it
    can fail the stability check with its own message."""
    box = make_sandbox("""
        import numpy as np
        def naive(z):
            return 1 / (1 + np.exp(-z))
        def stable(z):
            return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    """)
    bad = box.call("naive", [np.array([-1000.0, 0.0])])
    assert bad.status == "ok"
    assert bad.warnings == ("RuntimeWarning: overflow encountered in exp",)
    np.testing.assert_array_equal(bad.value, [0.0, 0.5])
    assert box.call("stable", [np.array([-1000.0, 0.0])]).warnings == ()


def test_an_argument_changed_in_place_is_reported_by_position(make_sandbox):
    box = make_sandbox("""
        def scribble(a, b):
            b[0] = 99.0
            return float(a.sum())
    """)
    result = box.call("scribble", [np.ones(3), np.zeros(2)])
    assert (result.status, result.value, result.mutated) == ("ok", 3.0, (1,))


def test_an_in_place_change_is_found_by_the_grader_whatever_the_student_patches(make_sandbox):
    """The child only sends the bytes back; the comparison is the grader's, so
    replacing NumPy's comparisons and copies in the child hides nothing."""
    box = make_sandbox("""
        import numpy as np
        np.array_equal = lambda *args, **kwargs: True
        np.array = lambda a, *args, **kwargs: a
        def scribble(a):
            a[1] = -1.0
            return 0.5
    """)
    result = box.call("scribble", [np.ones(3)])
    assert (result.status, result.value, result.mutated) == ("ok", 0.5, (0,))


OOM_KILLED = """
import os, signal
import numpy as np
def hog():
    big = np.ones(40_000_000)   # 320 MB, every page touched
    os.kill(os.getpid(), signal.SIGKILL)   # what the kernel's out-of-memory killer does
"""


def test_a_forked_child_killed_by_the_kernel_after_using_much_memory_is_reported_as_memory(
        make_sandbox):
    """The template reaps the child itself, so its peak memory is known even
    under namespaces (where a cold child's status passes through bwrap)."""
    box = make_sandbox(OOM_KILLED, limits=Limits(memory_bytes=512 << 20, call_timeout=10.0))
    result = box.call("hog")
    assert result.status == "memory", result
    used = int(re.fullmatch(r"was killed \(SIGKILL\) after using (\d+) MB of memory",
                            result.message).group(1))
    assert 320 <= used < 512

"""One timeout never cancels other cases: every call is attempted, each with
its own limit, in a fresh child if the old one had to be killed; the number
of fresh children stays bounded."""
from __future__ import annotations

import math
import re
import time

import pytest

from grader.sandbox import Limits

from .conftest import FAST

# Loops forever on its first call only (it ignores nothing: the soft timeout stops it).
FIRST_CALL_LOOPS = """
    calls = []
    def step(x):
        calls.append(x)
        while len(calls) == 1:
            pass
        return 2 * x
    """

# Ignores the soft timeout, so the parent must kill the child; a fresh child
# replays the cells, so `calls` restarts empty and only a first call loops again.
STUBBORN_FIRST_CALL = """
    import signal
    calls = []
    def step(x):
        calls.append(x)
        if x < 0:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        return 2 * x
    """


def test_a_call_that_loops_forever_does_not_cancel_the_cheap_calls_after_it(make_sandbox):
    box = make_sandbox(FIRST_CALL_LOOPS)
    results = box.call_many("step", [[1], [2], [3]])
    assert [r.status for r in results] == ["timeout", "ok", "ok"]
    assert re.fullmatch(r"did not finish within 1 s \(stopped at cell 1, line [56]\)",
                        results[0].message)
    assert [r.value for r in results[1:]] == [4, 6]
    assert box.setup().restarts == 0  # the soft timeout kept the child alive


def test_after_a_call_that_had_to_be_killed_later_calls_run_in_a_fresh_child(make_sandbox):
    box = make_sandbox(STUBBORN_FIRST_CALL)
    start = time.monotonic()
    results = box.call_many("step", [[-1], [2], [3]], timeouts=[0.3, 1.0, 1.0])
    assert time.monotonic() - start < 0.3 + FAST.grace + 3.0
    assert [(r.status, r.value) for r in results] == [("timeout", None), ("ok", 4), ("ok", 6)]
    assert results[0].message == "did not finish within 0.3 s; it was stopped"
    assert box.setup().restarts == 1
    assert box.call("step", [5]).value == 10


def test_per_call_time_limits_are_honoured(make_sandbox):
    box = make_sandbox("""
        import time
        def nap(seconds):
            time.sleep(seconds)
            return seconds
        """)
    results = box.call_many("nap", [[0.5], [0.5], [0.5]], timeouts=[0.2, 2.0, None], timeout=0.3)
    assert [(r.status, r.value) for r in results] == [("timeout", None), ("ok", 0.5),
                                                       ("timeout", None)]
    assert results[0].message == "did not finish within 0.2 s (stopped at cell 1, line 4)"
    assert results[2].message == "did not finish within 0.3 s (stopped at cell 1, line 4)"
    assert box.call("nap", [0.5], timeout=2.0).value == 0.5


@pytest.mark.parametrize("timeouts, error", [
    ([1.0], "timeouts has 1 entries for 2 calls"),
    ([1.0, -1.0], "a call's time limit must be a positive number of seconds, not -1.0"),
    ([1.0, math.nan], "a call's time limit must be a positive number of seconds, not nan"),
    ([1.0, "2"], "a call's time limit must be a positive number of seconds, not '2'"),
])
def test_malformed_time_limits_are_the_callers_error(make_sandbox, timeouts, error):
    box = make_sandbox("def f(x): return x")
    with pytest.raises(ValueError, match=re.escape(error)):
        box.call_many("f", [[1], [2]], timeouts=timeouts)


def test_kills_for_time_do_not_use_up_the_crash_budget(make_sandbox):
    limits = Limits(cell_timeout=1.0, call_timeout=0.3, setup_timeout=10.0, grace=0.3, restarts=0)
    box = make_sandbox(STUBBORN_FIRST_CALL, "import os\ndef die(): os._exit(3)", limits=limits)
    results = box.call_many("step", [[-1], [1], [-2], [2]])
    assert [r.status for r in results] == ["timeout", "ok", "timeout", "ok"]
    assert box.call("die").status == "crash"
    assert box.call("step", [4]).message == "was not run: your code crashed too many times"


REFUSED = ("was not run: earlier calls that did not finish in time used up the 1 s a submission "
           "may spend on them")


def test_time_lost_to_calls_that_hang_is_bounded_so_grading_cannot_stall(make_sandbox):
    limits = Limits(cell_timeout=1.0, call_timeout=0.3, setup_timeout=10.0, grace=0.3,
                    slow_call_seconds=1.0)
    box = make_sandbox("def hang(x):\n    while True:\n        pass\n", "def f(): return 1",
                       limits=limits)
    start = time.monotonic()
    results = box.call_many("hang", [[k] for k in range(20)])
    assert time.monotonic() - start < 1.0 + 0.3 + 0.3 + 2.0
    ran = [r for r in results if r.message != REFUSED]
    assert 3 <= len(ran) <= 4 and results[len(ran):] == [results[-1]] * (20 - len(ran))
    assert all(re.fullmatch(r"did not finish within 0.3 s \(stopped at cell 1, line [23]\)",
                            r.message) for r in ran)
    assert (results[-1].status, results[-1].message) == ("timeout", REFUSED)
    assert box.call("f").message == REFUSED  # the budget is the submission's, not the function's


def test_kills_for_time_and_their_replays_count_against_the_same_bound(make_sandbox):
    limits = Limits(cell_timeout=1.0, call_timeout=0.3, setup_timeout=10.0, grace=0.3,
                    slow_call_seconds=1.0)
    box = make_sandbox(STUBBORN_FIRST_CALL, limits=limits)
    results = box.call_many("step", [[-1]] * 6)
    # Each kill costs 0.3 s + 0.3 s of grace + the replay: one or two fit in 1 s.
    killed = sum(r.message == "did not finish within 0.3 s; it was stopped" for r in results)
    assert 1 <= killed <= 2
    assert [r.message for r in results[killed:]] == [REFUSED] * (6 - killed)

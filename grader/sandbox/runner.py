"""Parent side of the sandbox: one child process per submission, driven over pipes.

The parent owns every guarantee. It alone enforces wall-clock limits (poll with
a deadline, then SIGKILL the child's whole process group), caps what it reads,
and accepts nothing from the child but frames that decode to plain data. The
child's own soft timeout and rlimits only make the common cases cheaper: a loop
interrupted in the child costs no restart.

A call that times out costs that call only: every later call is still made,
in a fresh child if the old one had to be killed. What bounds a hostile
submission is Limits.restarts (fresh children after crashes) and
Limits.slow_call_seconds (wall time all calls that time out may use, replays
after kills included): past either, further calls are refused with a message.
Calls that finish are never charged, and cells are bounded by setup_timeout.

Over all of that, Limits.total_seconds bounds the wall time one submission
spends in its child: its setup and its calls (replays included), not the
grader's own work between calls. Past it, the call in progress is stopped (its
child killed) and every further call is refused with status "timeout". Only
running the cells (the setup, or a replay in a fresh child), each bounded by
setup_timeout, can overrun it.
"""
from __future__ import annotations

import math
import os
import time
import weakref
from dataclasses import dataclass
from numbers import Real

import numpy as np
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..source import CodeCell
from . import wire
from .notes import statement_notes
from .process import SandboxError, _Child, _Gone, _shutdown
from .staging import RunAs

# A slow machine must not make the student's setup fail: the child's own
# start-up gets at least this long, on top of what is left of setup_timeout.
HANDSHAKE_SECONDS = 10.0
CALL_STATUSES = frozenset(("ok", "error", "timeout", "crash", "memory", "bad-return"))


@dataclass(frozen=True)
class Limits:
    cell_timeout: float = 5.0
    setup_timeout: float = 20.0
    call_timeout: float = 5.0
    memory_bytes: int = 1 << 30        # RLIMIT_AS of the child
    output_bytes: int = 20_000         # characters of stdout+stderr kept per cell or call
    frame_bytes: int = 64 << 20        # largest frame accepted from the child
    cpu_seconds: int = 600             # RLIMIT_CPU backstop over the child's whole life
    file_bytes: int = 64 << 20         # RLIMIT_FSIZE: largest file student code may write
    grace: float = 1.0                 # wall time past a soft timeout before the parent kills
    # Fresh children per Sandbox after a call crashed the child (os._exit, a
    # signal, garbage on the pipe, the OOM killer) before further calls are refused.
    restarts: int = 10
    # Wall time per Sandbox that calls which time out may use in total (their
    # limit, and for a call the parent had to kill, the grace and the replay of
    # the cells in a fresh child). A timeout costs only its own call until this
    # is used up; then further calls are refused, so that a function that hangs
    # on every case cannot hold grading for cases x call_timeout.
    slow_call_seconds: float = 120.0
    # Wall time per Sandbox spent in its setup and its calls (replays of the
    # cells included; the grader's own work between calls is not charged, so a
    # slow grader costs no student points): however its time is spent, one
    # submission cannot hold a batch longer than this (plus at most one run of
    # the cells, and the grace).
    total_seconds: float = 300.0
    seed: int = 0                      # random and numpy.random, reset before every call
    run_as: RunAs | None = None        # None: the child runs as the grader's own user
    # Isolation layers to raise (isolation.LAYERS); None: every one the machine offers.
    layers: tuple[str, ...] | None = None
    # Grade even when no layer among namespaces, landlock and seccomp is up.
    unsafe_no_isolation: bool = False
    # Fork children from a warm template (zygote.py) where every process a
    # child starts can be ended; False: every child starts a fresh interpreter.
    warm: bool = True


@dataclass(frozen=True)
class CellOutcome:
    """How one cell ended, and what went wrong on the way.

    A cell runs one top-level statement at a time: a statement that raises, or
    that cannot be compiled, is skipped and noted in ``notes`` (full sentences,
    e.g. "cell 3, line 1 (`import torch`): ModuleNotFoundError: No module named
    'torch'; the rest of the cell still ran") and the cell goes on, so its
    status can be "ok" with notes. "error" means sys.exit() stopped the cell
    (or it could not be read at all), "timeout" and "crash" that the rest of the
    cell did not run; ``message`` says which, and is "" when ok."""
    number: int
    status: str      # "ok" | "error" | "timeout" | "crash"
    message: str
    output: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setup:
    cells: tuple[CellOutcome, ...]
    functions: tuple[tuple[str, tuple[str, ...]], ...]
    restarts: int = 0                  # fresh children started after the first
    skipped: tuple[int, ...] = ()      # cells the latest child did not re-run (timed out/crashed)
    seconds: float = 0.0               # wall time of the latest setup, child start-up included

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.functions)

    def signature(self, name: str) -> tuple[str, ...] | None:
        return next((params for n, params in self.functions if n == name), None)


@dataclass(frozen=True)
class CallResult:
    status: str      # "ok" | "error" | "timeout" | "crash" | "memory" | "bad-return"
    value: Any = None
    message: str = ""
    output: str = ""
    warnings: tuple[str, ...] = ()   # e.g. "RuntimeWarning: overflow encountered in exp"
    mutated: tuple[int, ...] = ()    # positions of array arguments changed in place


class Sandbox:
    """Runs one submission's cells in a child process and calls its functions.

    Use as a context manager, or call :meth:`close`. A child that times out or
    crashes is replaced on the next call, replaying the preamble and every cell
    except those that timed out or crashed before.
    """

    def __init__(self, cells: Sequence[CodeCell], *, limits: Limits = Limits(),
                 protected: Sequence[Path | str] = (), preamble: str = ""):
        self._cells = tuple(cells)
        for cell in self._cells:
            if not isinstance(cell, CodeCell):
                raise TypeError(f"cells must be CodeCell records, not {type(cell).__name__}")
        numbers = [cell.number for cell in self._cells]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"cell numbers must be unique, got {numbers}")
        self.limits = limits
        self._protected = tuple(os.path.realpath(p) for p in protected)
        self._preamble = preamble
        self._holder: list = [None]
        self._finalizer = weakref.finalize(self, _shutdown, self._holder)
        self._setup: Setup | None = None
        self._outcomes: dict[int, CellOutcome] = {}
        self._bad: set[int] = set()
        self._functions: tuple | None = None
        self._spawns = 0
        self._crashes = 0          # calls after which the child had died
        self._slow_seconds = 0.0   # wall time spent in calls that timed out
        self._killed = False       # the last child was killed for time (its replay is charged)
        self._spent = 0.0          # wall time charged to Limits.total_seconds so far
        self._budget_end: float | None = None   # while calls are made: when the budget ends
        self.stopped_by_budget = False   # a call was stopped or refused for Limits.total_seconds
        self._next_id = 0

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._finalizer()

    # -- setup ---------------------------------------------------------------

    def prepare(self, wait: bool = True) -> None:
        """Start what this sandbox's children share (the warm template) and,
        with ``wait``, wait for it: the grader's cost, paid once per process and
        never charged to a submission. setup() calls it; call it earlier (with
        ``wait=False``) to overlap the template's imports with other work."""
        _Child.prepare(self.limits, self._protected, wait)

    def setup(self) -> Setup:
        """Start the child and run the preamble and cells (once; cached)."""
        if self._setup is None:
            self.prepare()
            began = time.monotonic()
            try:
                self._boot()
            finally:
                self._spent += time.monotonic() - began
        return self._setup

    def _rid(self) -> int:
        self._next_id += 1
        return self._next_id

    def _ask(self, child: _Child, payload: dict, timeout: float, deadline: float) -> dict:
        rid = self._rid()
        end = min(time.monotonic() + timeout, deadline) + self.limits.grace
        child.send(dict(payload, id=rid), end)
        reply = child.recv(end)
        if reply.get("fatal"):
            raise _Gone("crash", _text(reply.get("message")))
        if reply.get("id") != rid:
            raise child._garbage(f"reply {reply.get('id')!r} to request {rid}")
        return reply

    def _boot(self) -> None:
        if not self._finalizer.alive:
            raise SandboxError("the sandbox is closed")
        start = time.monotonic()
        deadline = start + self.limits.setup_timeout
        while True:
            self._spawns += 1
            handshake = max(deadline, time.monotonic() + HANDSHAKE_SECONDS)
            child = _Child(self.limits, self._protected, handshake)
            self._holder[0] = child
            skipped = tuple(c.number for c in self._cells if c.number in self._bad)
            try:
                self._run_preamble(child, deadline)
                died = self._run_cells(child, deadline)
                if not died:
                    break
            except BaseException:
                _shutdown(self._holder)
                raise
            _shutdown(self._holder)
        if self._functions is None:
            self._functions = self._list_functions(child, deadline)
        self._setup = Setup(
            cells=tuple(self._outcomes[c.number] for c in self._cells),
            functions=self._functions or (), restarts=self._spawns - 1, skipped=skipped,
            seconds=time.monotonic() - start)

    def _run_preamble(self, child: _Child, deadline: float) -> None:
        if not self._preamble:
            return
        timeout = deadline - time.monotonic()
        try:
            reply = self._ask(child, {"op": "run", "kind": "preamble", "source": self._preamble,
                                      "timeout": timeout}, timeout, deadline)
        except _Gone as gone:
            raise SandboxError("the grader's preamble killed the sandbox child", gone.message)
        if reply.get("status") != "ok":
            raise SandboxError("the grader's preamble failed", _text(reply.get("message")))

    def _run_cells(self, child: _Child, deadline: float) -> bool:
        """Run every cell not known to be bad. True if the child died doing so."""
        limit = self.limits.cell_timeout
        for cell in self._cells:
            if cell.number in self._bad:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                self._record(CellOutcome(cell.number, "timeout", (
                    f"did not run: the notebook took more than {self.limits.setup_timeout:g} s "
                    "in total"), ""))
                continue
            timeout = min(limit, left)
            try:
                reply = self._ask(child, {"op": "run", "kind": "cell", "cell": cell.number,
                                          "source": cell.source, "timeout": timeout},
                                  timeout, deadline)
            except _Gone as gone:
                if gone.status == "timeout":
                    message = gone.message or _timeout_message(timeout, "") + "; it was stopped"
                else:
                    message = gone.message
                self._record(CellOutcome(cell.number, "timeout" if gone.status == "timeout"
                                         else "crash", message, ""))
                return True
            status = _text(reply.get("status"))
            message = _text(reply.get("message"))
            if status == "timeout":
                message = _timeout_message(timeout, message) + (
                    "; anything the cell defines after that point is missing")
            elif status == "memory":
                status = "error"
            elif status not in ("ok", "error"):
                status, message = "crash", f"unexpected status {status!r}"
            notes = statement_notes(cell.number, reply.get("notes"), reply.get("more"))
            self._record(CellOutcome(cell.number, status, message, _text(reply.get("output")),
                                     notes))
        return False

    def _record(self, outcome: CellOutcome) -> None:
        if outcome.status in ("timeout", "crash"):
            self._bad.add(outcome.number)
        if outcome.number not in self._outcomes or outcome.status in ("timeout", "crash"):
            self._outcomes[outcome.number] = outcome

    def _list_functions(self, child: _Child, deadline: float) -> tuple:
        # Listing runs student code too (inspect.signature), but is the
        # grader's request: it gets its own cell_timeout, not what is left.
        timeout = self.limits.cell_timeout
        try:
            reply = self._ask(child, {"op": "functions", "timeout": timeout}, timeout,
                              time.monotonic() + timeout)
        except _Gone:
            _shutdown(self._holder)
            return ()
        found = []
        for item in reply.get("functions") or ():
            if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list) and all(isinstance(p, str) for p in item[1])):
                found.append((item[0], tuple(item[1])))
        return tuple(found)

    # -- calls ---------------------------------------------------------------

    def call(self, function: str, args: Sequence = (), kwargs: Mapping | None = None, *,
             timeout: float | None = None) -> CallResult:
        return self._calls(function, [(args, kwargs or {})], [self._limit(timeout)])[0]

    def call_many(self, function: str, arg_lists: Sequence[Sequence], *,
                  timeout: float | None = None,
                  timeouts: Sequence[float | None] | None = None) -> list[CallResult]:
        """Call ``function`` once per argument list, in one round trip. Each
        call has its own time limit: ``timeouts[k]`` seconds for call k if
        given (None entries, like ``timeouts`` None, mean ``timeout``, itself
        defaulting to Limits.call_timeout). A call that times out does not stop
        the others."""
        if timeouts is None:
            limits = [self._limit(timeout)] * len(arg_lists)
        else:
            timeouts = list(timeouts)
            if len(timeouts) != len(arg_lists):
                raise ValueError(f"timeouts has {len(timeouts)} entries for "
                                 f"{len(arg_lists)} calls")
            limits = [self._limit(t if t is not None else timeout) for t in timeouts]
        return self._calls(function, [(args, {}) for args in arg_lists], limits)

    def _limit(self, timeout: float | None) -> float:
        if timeout is None:
            return self.limits.call_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, Real) or not (
                math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"a call's time limit must be a positive number of seconds, "
                             f"not {timeout!r}")
        return float(timeout)

    def _calls(self, function: str, calls: list, timeouts: list[float]) -> list[CallResult]:
        if not isinstance(function, str):
            raise TypeError(f"function must be a name (str), not {type(function).__name__}")
        encoded = [[wire.encode(list(args)), wire.encode(dict(kwargs))] for args, kwargs in calls]
        self.setup()
        results: list[CallResult | None] = [None] * len(calls)
        began = time.monotonic()
        self._budget_end = began + max(0.0, self.limits.total_seconds - self._spent)
        try:
            self._call_all(function, encoded, timeouts, results)
        finally:
            self._spent += time.monotonic() - began
            self._budget_end = None
        return results  # type: ignore[return-value]

    def _call_all(self, function: str, encoded: list, timeouts: list[float], results: list) -> None:
        start = 0
        while start < len(encoded):
            refused = self._refusal()
            if refused is not None:
                results[start:] = [refused] * (len(encoded) - start)
                break
            if self._holder[0] is None:
                began = time.monotonic()
                self._boot()
                if self._killed:  # replaying the cells is part of what the slow call cost
                    self._slow_seconds += time.monotonic() - began
                    self._killed = False
            start = self._batch(function, encoded, start, timeouts, results)

    @property
    def out_of_budget(self) -> bool:
        """True once Limits.total_seconds is used up: calls are no longer made."""
        if self._budget_end is not None:  # calls under way: their time is not yet in _spent
            return time.monotonic() >= self._budget_end
        return self._spent >= self.limits.total_seconds

    def _budget_message(self, stopped: bool = False) -> str:
        self.stopped_by_budget = True
        what = "was stopped" if stopped else "was not run"
        return f"{what}: the submission used up its {self.limits.total_seconds:g} s grading budget"

    def _refusal(self) -> CallResult | None:
        """Why no more calls may be made, or None."""
        if self.out_of_budget:
            return CallResult("timeout", None, self._budget_message(), "")
        if self._holder[0] is None and self._crashes > self.limits.restarts:
            return CallResult("crash", None, "was not run: your code crashed too many times", "")
        if self._slow_seconds >= self.limits.slow_call_seconds:
            return CallResult("timeout", None, (
                "was not run: earlier calls that did not finish in time used up the "
                f"{self.limits.slow_call_seconds:g} s a submission may spend on them"), "")
        return None

    def _batch(self, function: str, encoded: list, start: int, timeouts: list[float],
               results: list) -> int:
        """Send calls[start:] in one frame, read replies until one fails for
        good. Returns the index of the first call still without a result."""
        child = self._holder[0]
        rid = self._rid()
        grace = self.limits.grace
        began = time.monotonic()
        try:
            child.send({"op": "call", "id": rid, "function": function,
                        "calls": encoded[start:], "timeouts": timeouts[start:]},
                       began + timeouts[start] + grace)
        except _Gone as gone:
            results[start] = self._gone(timeouts[start], gone, began)
            return start + 1
        for index in range(start, len(encoded)):
            try:
                reply = child.recv(min(time.monotonic() + timeouts[index], self._budget_end) + grace)
                if reply.get("id") != rid or reply.get("index") != index - start:
                    raise child._garbage(f"reply {reply.get('id')!r}/{reply.get('index')!r} "
                                         f"to request {rid}/{index - start}")
                results[index] = self._result(timeouts[index], reply, encoded[index][0])
            except _Gone as gone:
                results[index] = self._gone(timeouts[index], gone, began)
                return index + 1
            if reply.get("fatal"):
                _shutdown(self._holder)
                self._crashes += 1
                return index + 1
            now = time.monotonic()
            if results[index].status == "timeout":
                self._slow_seconds += now - began
                if self._slow_seconds >= self.limits.slow_call_seconds:
                    # The child would go on with the rest of the batch on its own.
                    _shutdown(self._holder)
                    return index + 1
            if now >= self._budget_end and index + 1 < len(encoded):
                _shutdown(self._holder)  # the rest of the batch is refused, not run
                return index + 1
            began = now
        return len(encoded)

    def _gone(self, timeout: float, gone: _Gone, began: float) -> CallResult:
        _shutdown(self._holder)
        if gone.status == "timeout":
            self._slow_seconds += time.monotonic() - began
            self._killed = True
            if self.out_of_budget and time.monotonic() - began < timeout + self.limits.grace:
                # Stopped by the submission's budget, not by its own time limit.
                return CallResult("timeout", None, self._budget_message(stopped=True), "")
            message = gone.message or _timeout_message(timeout, "") + "; it was stopped"
            return CallResult("timeout", None, message, "")
        self._crashes += 1
        return CallResult(gone.status, None, gone.message, "")

    def _result(self, timeout: float, reply: dict, sent_args: list) -> CallResult:
        status = _text(reply.get("status"))
        message, output = _text(reply.get("message")), _text(reply.get("output"))
        if status not in CALL_STATUSES:
            raise _Gone("crash", f"unexpected status {status[:40]!r}")
        if status == "timeout":
            message = _timeout_message(timeout, message)
        value = None
        if status == "ok":
            try:
                value = wire.decode(reply.get("value"))
            except (wire.WireError, RecursionError) as exc:
                detail = exc.message if isinstance(exc, wire.WireError) else "nested too deeply"
                raise _Gone("crash", f"the result could not be read ({detail})") from None
        warned = reply.get("warnings")
        warned = tuple(_text(w, 300) for w in warned[:5]) if isinstance(warned, list) else ()
        # Only a value is judged; an in-place change matters next to one.
        moved = _mutated(sent_args, reply.get("after")) if status == "ok" else ()
        return CallResult(status, value, message, output, warned, moved)


def _mutated(sent: list, after: Any) -> tuple[int, ...]:
    """Positions of array arguments that the student changed in place,
    decided here from what was sent and what the child says the arrays hold
    afterwards, never by code the student can reach: a backward pass that
    scribbles on its cache or inputs is a bug worth naming."""
    if not isinstance(after, list) or len(after) != len(sent):
        after = [None] * len(sent)
    out = []
    for k, (given, now) in enumerate(zip(sent, after)):
        if not (isinstance(given, dict) and "a" in given):
            continue  # only arrays are compared
        try:
            if not isinstance(now, list) or len(now) != 3:
                raise wire.WireError("missing")
            before, then = wire.decode(given), wire.decode({"a": now})
        except (wire.WireError, RecursionError):
            out.append(k)
            continue
        if before.dtype != then.dtype or before.shape != then.shape or not np.array_equal(
                before, then, equal_nan=True):
            out.append(k)
    return tuple(out)


def _text(value: Any, limit: int = 100_000) -> str:
    """A str from the child, or "" for anything else; capped."""
    return value[:limit] if isinstance(value, str) else ""


def _timeout_message(timeout: float, where: str) -> str:
    text = f"did not finish within {timeout:g} s"
    return f"{text} (stopped at {where})" if where else text

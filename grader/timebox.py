"""Run a pure computation in a forked process that is killed when its time is up.

SymPy's simplification can run for minutes on an innocent-looking expression,
and expanding (a + b + ...)**40 fills any amount of memory; neither can be
interrupted from inside. A fork can simply be killed, and an RLIMIT_AS set in
it turns a runaway allocation into a MemoryError there, never in the grader.
Only JSON data comes back over a pipe (the grader's own computation produces
it; nothing is unpickled), capped in size.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from typing import Any, Callable

# Address space a worker may add to what the grader already maps when it forks.
MEMORY_BYTES = 2 << 30
# Largest answer read back; a result is a verdict or a few numbers, not data.
RESULT_BYTES = 1 << 20
_END = b"\n"   # json.dumps never writes a raw newline: its presence means "complete"


def timeboxed(compute: Callable[[], Any], seconds: float,
              memory_bytes: int = MEMORY_BYTES) -> Any | None:
    """What ``compute()`` returns (JSON data: None, bool, numbers, str, lists,
    dicts), computed in a fork limited to ``seconds`` of wall time and
    ``memory_bytes`` of address space beyond the grader's own; None if it
    raised, ran out of time or memory, or answered more than RESULT_BYTES."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the fork
        try:
            os.close(read_fd)
            _limit_memory(memory_bytes)
            data = json.dumps(compute()).encode() + _END
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:
            pass
        os._exit(0)
    os.close(write_fd)
    chunks, size = [], 0
    try:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            ready = select.select([read_fd], [], [], left)[0] if left > 0 else []
            if not ready:
                chunks = []
                break
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > RESULT_BYTES:
                chunks = []
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data.endswith(_END):
        return None
    return json.loads(data)


def timeboxed_predicate(predicate: Callable[[], bool], seconds: float,
                        memory_bytes: int = MEMORY_BYTES) -> bool | None:
    """True/False as ``predicate`` answers, or None if it raised or ran out of time or memory."""
    answer = timeboxed(lambda: bool(predicate()), seconds, memory_bytes)
    return answer if isinstance(answer, bool) else None


def _limit_memory(extra: int) -> None:  # pragma: no cover - runs in the fork
    """RLIMIT_AS at what this process maps now plus ``extra``: an absolute
    limit would fail at once in a grader that already maps more than it."""
    mapped = 0
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
                break
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

"""Resource limits of the child, and the soft timer that interrupts student code.

The rlimits are kernel limits (memory, CPU, file size, processes); the timer
only makes the common case cheap (a loop interrupted here costs no restart):
the grader's wall-clock kill is the guarantee. Loaded by path by main.py.
"""
from builtins import BaseException, int, max  # noqa: A004 - bound before student code runs
import resource
import signal

_setitimer, _set_handler, _ITIMER_REAL, _SIGALRM = (
    signal.setitimer, signal.signal, signal.ITIMER_REAL, signal.SIGALRM)


class SoftTimeout(BaseException):
    """Raised by SIGALRM inside student code; BaseException so that a student's
    ``except Exception`` does not swallow it."""


def _on_alarm(_signum, _frame):
    raise SoftTimeout()


def arm(seconds):
    """Raise SoftTimeout in this thread after ``seconds`` of wall time."""
    _set_handler(_SIGALRM, _on_alarm)
    _setitimer(_ITIMER_REAL, max(seconds, 0.001))


def disarm():
    _setitimer(_ITIMER_REAL, 0)


def apply(cfg):
    """The kernel's limits for the rest of this process's life."""
    mem = cfg["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(cfg["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["file_bytes"], cfg["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Not enforced for root; seccomp, the namespaces and the uid layer are.
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    try:  # out of memory, the kernel must kill student code first, not the grader
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass

"""Suite-wide set-up: derived cases are cached in a fresh directory per run.

Every test run computes its cases from scratch (so a stale disk cache can never
hide a change), while the processes a test starts (the CLI, the Gradescope
stand-in) inherit the directory and share what the run has computed.
"""
import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="lstm-grader-cache-")
os.environ["LSTM_GRADER_CACHE"] = _CACHE


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)

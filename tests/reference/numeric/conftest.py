"""Shared checking tools for the numeric reference tests, handed out as
fixtures (with --import-mode=importlib a test module cannot import a sibling).

Every tolerance the suite uses is defined here so that the report of what was
measured and what is asserted stays in one place."""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

FD_EPS = 1e-5        # central-difference step: truncation ~eps^2, rounding ~1e-16/eps
FD_TOL = 1e-7        # normwise relative error allowed against finite differences
AD_TOL = 1e-12       # normwise relative error allowed against autograd


def rel_err(a, b) -> float:
    """||a - b|| / max(||a||, ||b||) over all entries (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0.0 else float(np.linalg.norm(a - b) / scale)


def central_diff(loss, inputs: dict, eps: float = FD_EPS) -> dict:
    """Central differences of the scalar ``loss(**inputs)`` w.r.t. every array
    in ``inputs``, one entry at a time."""
    work = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}
    out = {}
    for name, arr in work.items():
        g = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss(**work)
            arr[idx] = old - eps
            down = loss(**work)
            arr[idx] = old
            g[idx] = (up - down) / (2.0 * eps)
        out[name] = g
    return out


@contextlib.contextmanager
def strict_fp():
    """Any overflow, invalid operation or division by zero -- raised by NumPy
    or surfacing as a warning -- fails the test.  (Underflow to zero is a
    correct result, e.g. sigma(-1000).)"""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


class Tools:
    FD_EPS = FD_EPS
    FD_TOL = FD_TOL
    AD_TOL = AD_TOL
    rel_err = staticmethod(rel_err)
    central_diff = staticmethod(central_diff)
    strict_fp = staticmethod(strict_fp)


@pytest.fixture(scope="session")
def tools() -> type[Tools]:
    return Tools

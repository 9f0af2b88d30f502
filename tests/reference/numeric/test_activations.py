"""Stable activations: exact saturation, no warnings, ulp-level accuracy
checked against 50-digit mpmath."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from reference.numeric.activations import (
    dsigmoid,
    dtanh,
    sigmoid,
    sigmoid_grad_from_value,
    tanh,
    tanh_grad_from_value,
)

Z = np.array([-1e308, -1000.0, -745.0, -710.0, -40.0, -15.0, -1.0, -1e-8, 0.0,
              1e-8, 0.5, 15.0, 36.0, 40.0, 709.0, 710.0, 1000.0, 1e308])


TINY = np.finfo(np.float64).tiny   # below this, floats are subnormal


def _mp_rel(values, exact_fn):
    """Largest relative error of float values against 50-digit mpmath.
    Subnormal results only carry absolute accuracy, so they are checked to
    within two subnormal steps instead."""
    worst = 0.0
    with mpmath.workdps(50):
        for z, v in zip(Z, values):
            exact = exact_fn(mpmath.mpf(float(z)))
            if abs(exact) < TINY:
                assert abs(mpmath.mpf(float(v)) - exact) <= 1e-323, (z, v, exact)
                continue
            worst = max(worst, float(abs((mpmath.mpf(float(v)) - exact) / exact)))
    return worst


def test_saturation_at_plus_minus_1000_is_exact_and_silent(tools):
    """sigma(+-1000) is exactly 1/0 and tanh(+-1000) exactly +-1, with every
    floating-point exception turned into an error."""
    with tools.strict_fp():
        assert sigmoid(1000.0) == 1.0 and sigmoid(-1000.0) == 0.0
        assert tanh(1000.0) == 1.0 and tanh(-1000.0) == -1.0
        s = sigmoid(np.array([-1000.0, 1000.0]))
        t = tanh(np.array([-1000.0, 1000.0]))
        assert s.tolist() == [0.0, 1.0] and t.tolist() == [-1.0, 1.0]
        for f in (sigmoid, tanh, dsigmoid, dtanh):
            assert np.all(np.isfinite(f(Z)))


def test_scalars_come_back_as_floats_and_arrays_keep_shape():
    """A float in gives a float out (np.float64); an array keeps its shape."""
    for f in (sigmoid, tanh, dsigmoid, dtanh, sigmoid_grad_from_value, tanh_grad_from_value):
        assert isinstance(f(0.3), float)
        assert f(np.zeros((2, 3))).shape == (2, 3)
    assert sigmoid(0) == 0.5 and dsigmoid(0.0) == 0.25 and dtanh(0.0) == 1.0


def test_sigmoid_and_tanh_are_ulp_accurate_against_mpmath():
    """Relative error of sigma, tanh below 4 ulps over |z| from 1e-8 to 1e308."""
    assert _mp_rel(sigmoid(Z), lambda z: 1 / (1 + mpmath.exp(-z))) < 1e-15
    assert _mp_rel(tanh(Z), mpmath.tanh) < 1e-15


def test_derivatives_from_preactivation_keep_relative_accuracy_when_saturated():
    """dsigmoid/dtanh are accurate relative to their (tiny) value, e.g. at z=15
    and z=38; the value-based textbook forms are not, which is why the
    reference backpropagates through the stored pre-activations."""
    assert _mp_rel(dsigmoid(Z), lambda z: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2) < 1e-14
    assert _mp_rel(dtanh(Z), lambda z: 1 / mpmath.cosh(z) ** 2) < 1e-14
    # At z = 38 sigma rounds to 1, so s(1-s) loses everything: 0 vs 3.1e-17.
    assert sigmoid(38.0) == 1.0 and sigmoid_grad_from_value(sigmoid(38.0)) == 0.0
    assert dsigmoid(38.0) == pytest.approx(float(mpmath.exp(-38)), rel=1e-14)


def test_value_based_derivatives_match_in_the_unsaturated_range():
    """s(1-s) and 1-t^2 agree with the pre-activation forms for |z| <= 3."""
    z = np.linspace(-3, 3, 61)
    np.testing.assert_allclose(sigmoid_grad_from_value(sigmoid(z)), dsigmoid(z), rtol=1e-14)
    np.testing.assert_allclose(tanh_grad_from_value(tanh(z)), dtanh(z), rtol=1e-13)


def test_sigmoid_symmetry_and_tanh_identity():
    """sigma(-z) = 1 - sigma(z) and tanh(z) = 2 sigma(2z) - 1 to rounding."""
    z = np.linspace(-20, 20, 401)
    np.testing.assert_allclose(sigmoid(-z), 1 - sigmoid(z), atol=2e-16)
    np.testing.assert_allclose(tanh(z), 2 * sigmoid(2 * z) - 1, atol=4e-16)

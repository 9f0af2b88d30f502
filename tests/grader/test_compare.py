"""The pass criterion: normwise, with an absolute part scaled by the size of the terms."""
import numpy as np

from grader.compare import EPS, Tolerance, compare

TOL = Tolerance()


def test_a_tiny_true_gradient_computed_from_rounded_gates_passes():
    """f(1 - f) with f = σ(30) rounded: the absolute error is ε-sized next to the
    terms (magnitude ≈ 2), though relative to the tiny answer it is large."""
    f = 1 / (1 + np.exp(-30.0))
    exact = np.exp(-30.0) / (1 + np.exp(-30.0)) ** 2
    assert compare(f * (1 - f), exact, magnitude=2.0, tol=TOL) is None
    assert compare(f * (1 - f), exact, magnitude=exact, tol=TOL) is not None


def test_a_wrong_term_at_saturation_fails():
    f = 1 / (1 + np.exp(-30.0))
    mismatch = compare(f, np.exp(-30.0), magnitude=2.0, tol=TOL)
    assert mismatch.kind == "value" and mismatch.message == "returned a wrong value"


def test_precision_loss_gets_its_own_message():
    mismatch = compare(1.0003e-13, 1.0e-13, magnitude=1e-13, tol=TOL)
    assert mismatch.message.startswith("returned a value close to the expected one but not within tolerance: "
                                      "right to about 3 significant digits")


def test_type_shape_and_nonfinite_messages():
    assert compare(None, 1.0, 1.0, TOL).message == "returned None (is a `return` statement missing?), but a real number was expected"
    assert compare("0.5", 1.0, 1.0, TOL).message == "returned a string ('0.5'), but a real number was expected"
    assert compare(1j, 1.0, 1.0, TOL).message == "returned a complex number (1j), but a real number was expected"
    assert compare([1.0], 1.0, 1.0, TOL).message == "returned a list of length 1, but a real number was expected"
    assert compare(float("nan"), 1.0, 1.0, TOL).message == "returned nan"
    assert compare(np.zeros(3), np.zeros((2, 3)), None, TOL).message == \
        "returned shape (3,), but shape (2, 3) was expected"
    assert compare(np.array([np.inf]), np.zeros(1), None, TOL).message == "returned an array containing inf"


def test_tuple_outputs_are_compared_by_name():
    expected = (np.ones(2), np.zeros(3))
    got = (np.ones(2), np.ones(3))
    assert compare(got, expected, None, TOL, ("dx", "db")).message == "db: returned wrong values"
    assert compare((np.ones(2),), expected, None, TOL, ("dx", "db")).message == \
        "returned a tuple of length 1, but a tuple of 2 values (dx, db) was expected"


def test_the_bound_is_rtol_times_the_answer_plus_kappa_epsilon_times_the_magnitude():
    assert TOL.bound(2.0, 3.0) == 1e-9 * 2.0 + 256 * EPS * 3.0

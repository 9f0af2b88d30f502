"""The pass criterion: normwise, with an absolute part scaled by the size of the terms."""
import numpy as np
import pytest

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


def test_an_answer_off_by_more_than_precision_explains_is_close_but_wrong():
    """Off by 3e-4 relative: more than cancellation explains; the message claims no cause."""
    mismatch = compare(1.0003e-13, 1.0e-13, magnitude=1e-13, tol=TOL)
    assert mismatch.kind == "value"
    assert mismatch.message == ("returned a value off by 3.0e-04 relative: close, but more than rounding "
                                "explains; a term is missing or wrong")


def test_an_answer_right_to_within_1e_6_passes_with_a_precision_note():
    """Right in exact arithmetic, digits lost to cancellation: passes, and the note says so."""
    notes = []
    assert compare(1.0 + 4e-7, 1.0, magnitude=1.0, tol=TOL, notes=notes) is None
    assert notes == ["right, but with about 6 correct significant digits where a careful float64 computation "
                     "keeps about 15: the formula loses precision at these inputs (typically by subtracting "
                     "nearly equal numbers); accepted"]
    assert compare(1.0 + 2e-6, 1.0, magnitude=1.0, tol=TOL) is not None


def test_zero_never_passes_the_precision_band():
    assert compare(0.0, 5e-17, magnitude=5e-17, tol=TOL).message == "returned a wrong value"


def test_shapes_that_differ_by_axes_of_size_one_pass_with_a_note():
    notes = []
    assert compare(np.ones((1, 8)), np.ones(8), None, TOL, notes=notes) is None
    assert notes == ["returned shape (1, 8) where (8,) was expected; they differ only by axes of size 1, so it "
                     "was graded as reshaped"]
    assert compare(np.ones((8, 1)), np.ones(8), None, TOL) is None
    assert compare(np.ones((2, 4)), np.ones(8), None, TOL).message == \
        "returned shape (2, 4), but shape (8,) was expected"
    assert compare(np.zeros((1, 8)), np.ones(8), None, TOL).message == "returned wrong values"


def test_a_size_one_array_counts_as_a_number():
    assert compare(np.array([[2.0]]), 2.0, 2.0, TOL) is None


def test_norms_are_correctly_rounded_and_do_not_overflow():
    from grader.compare import norm

    assert norm([3.0, 4.0]) == 5.0
    assert norm([1e200, 1e200]) == pytest.approx(1.4142135623730951e200, rel=1e-15)
    assert norm([]) == 0.0
    assert norm([0.1] * 10) == pytest.approx(0.31622776601683794, rel=1e-16)


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


def test_a_wrong_array_names_the_gate_block_and_the_time_step():
    expected = np.ones((2, 8))
    got = expected.copy()
    got[:, 2:4] += 0.5                                   # H = 2: the f block of i, f, o, g
    assert compare(got, expected, None, TOL, layouts={"": (None, "gates:ifog")}).message == \
        "returned wrong values (in the f gate block only)"
    got = np.ones((2, 5, 3))
    got[1, 3:, :] = 0.0
    assert compare((got,), (np.ones((2, 5, 3)),), None, TOL, ("dx",), layouts={"dx": (None, "time", None)}).message == \
        "dx: returned wrong values (first at time step 4 of 5)"


def test_a_wrong_array_without_a_layout_says_no_more_than_that():
    assert compare(np.zeros(8), np.ones(8), None, TOL, layouts={}).message == "returned wrong values"


def test_every_wrong_output_of_a_tuple_is_named_with_its_gate_block():
    expected = (np.ones(3), np.ones((2, 8)), np.ones(8))
    got = (np.zeros(3), expected[1].copy(), expected[2].copy())
    got[1][:, 6:8] = 0.0                                  # the g block (H = 2)
    got[2][6:8] = 0.0
    layouts = {"dWx": (None, "gates:ifog"), "db": ("gates:ifog",)}
    assert compare(got, expected, None, TOL, ("dx", "dWx", "db"), layouts=layouts).message == (
        "dx: returned wrong values; dWx: returned wrong values (in the g gate block only); "
        "db: returned wrong values (in the g gate block only)")

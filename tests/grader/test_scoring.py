"""Points: a formula is right or wrong, shares add up exactly, partial credit only where declared."""
from fractions import Fraction

import pytest

from grader import scoring


def test_shares_add_up_exactly_in_hundredths():
    assert scoring.split(2, [1, 1, 1]) == [67, 67, 66]
    assert sum(scoring.split(6, [6, 6, 4, 2])) == 600
    assert scoring.split(6, [6, 6, 4, 2]) == [200, 200, 133, 67]
    assert scoring.split(3, [1]) == [300]


def test_shares_follow_the_weights_and_break_ties_in_declared_order():
    assert scoring.split(1, [1, 2]) == [33, 67]
    assert scoring.split(0.05, [1, 1]) == [3, 2]


def test_points_round_trip_through_hundredths():
    for units in (0, 1, 66, 67, 133, 3300, 123456):
        assert scoring.to_units(scoring.to_points(units)) == units
    assert scoring.to_points(67 + 67 + 66) == 2.0
    assert scoring.to_units(2.13333) == 213


def test_a_check_scores_only_when_the_formula_is_right():
    assert scoring.earned(67, 1.0, passed=True, partial=False, right=True) == 67
    assert scoring.earned(67, 1.0, passed=True, partial=False, right=False) == 0
    assert scoring.earned(67, 0.9, passed=False, partial=False, right=True) == 0


def test_declared_partial_credit_scores_the_share_of_cases_rounded_down():
    assert scoring.earned(200, 0.5, passed=False, partial=True, right=False) == 100
    assert scoring.earned(67, 1 / 3, passed=False, partial=True, right=False) == 22
    assert scoring.earned(67, 1.0, passed=True, partial=True, right=False) == 67


@pytest.mark.parametrize("points", [1, 2, 3, 6, 0.5, 2.5])
@pytest.mark.parametrize("weights", [[1], [1, 1, 1], [6, 6, 4, 2], [1, 2, 3, 4, 5, 6, 7]])
def test_every_split_is_within_a_hundredth_of_the_exact_share(points, weights):
    shares = scoring.split(points, weights)
    assert sum(shares) == scoring.to_units(points)
    for share, w in zip(shares, weights):
        exact = Fraction(points) * 100 * Fraction(w) / sum(weights)
        assert abs(share - exact) < 1

"""Numeric references for questions whose answer is not a single derived expression.

A task builds one test case at a time: ``case(rng, regime)`` returns the
student's arguments (plain data), the exact expected value, the magnitude that
scales the absolute tolerance, and a label a student can read. Tasks that
support ``gradcheck`` also return, through ``finite_difference(args)``, the
central-difference estimate of the same gradient from the reference *forward*
pass alone. Register a task by adding it to TASKS.
"""
from .lstm_scalar import CellPathFactor, LSTMWeightGradient

TASKS = {
    "lstm_weight_gradient": LSTMWeightGradient,
    "cell_path_factor": CellPathFactor,
}

# Helpers for this homework: a sigmoid and tanh that never overflow, and the
# two small functions (check_step_backward, check_bptt) through which the
# autograder calls your step_backward and bptt. Run this cell; do not edit it.
import numpy as np

# Every weight under its homework name; W_0f is the bias of the forget gate.
WEIGHT_NAMES = ("W_hf", "W_xf", "W_0f", "W_hi", "W_xi", "W_0i", "W_ho", "W_xo", "W_0o",
                "W_hc", "W_xc", "W_0c", "W_y", "W_0y")
GATE_WEIGHT_NAMES = WEIGHT_NAMES[:12]


def sigmoid(z):
    """The logistic function 1 / (1 + exp(-z)), elementwise, without overflow for large |z|."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(out) if out.ndim == 0 else out


def tanh(z):
    """The hyperbolic tangent, elementwise."""
    out = np.tanh(np.asarray(z, dtype=float))
    return float(out) if out.ndim == 0 else out


def _arrays_in(value, path):
    """(path, array, copy) for every array inside dicts, lists and tuples."""
    if isinstance(value, np.ndarray):
        return [(path, value, value.copy())]
    if isinstance(value, dict):
        items = [(f"{path}[{k!r}]", v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{k}]", v) for k, v in enumerate(value)]
    else:
        return []
    return [found for p, v in items for found in _arrays_in(v, p)]


def _unchanged(snapshot, function):
    # A dict argument's arrays are yours to read, not to overwrite: the caller
    # (and the next step of the backward pass) still needs them.
    for path, array, copy in snapshot:
        if array.shape != copy.shape or not np.array_equal(array, copy, equal_nan=True):
            raise ValueError(f"{function} changed {path} in place; work on a copy")


def _by_name(grads, names, function):
    if not isinstance(grads, dict):
        raise TypeError(f"{function} must return its weight gradients as a dict, not a {type(grads).__name__}")
    missing = [name for name in names if name not in grads]
    if missing:
        raise ValueError(f"the dict returned by {function} has no {', '.join(missing)}")
    return tuple(grads[name] for name in names)


def check_step_backward(grad_h, grad_C, cache, weights):
    """step_backward's result as a flat tuple: grad_h_prev, grad_C_prev, then
    the gradient of every weight in GATE_WEIGHT_NAMES."""
    snapshot = _arrays_in(cache, "cache") + _arrays_in(weights, "weights")
    result = step_backward(grad_h, grad_C, cache, weights)
    _unchanged(snapshot, "step_backward")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise TypeError("step_backward must return three things: grad_h_prev, grad_C_prev, grads")
    return (result[0], result[1]) + _by_name(result[2], GATE_WEIGHT_NAMES, "step_backward")


def check_bptt(weights, x, h0, C0, grad_y):
    """bptt's dict of weight gradients as a tuple in WEIGHT_NAMES order."""
    snapshot = _arrays_in(weights, "weights")
    grads = bptt(weights, x, h0, C0, grad_y)
    _unchanged(snapshot, "bptt")
    return _by_name(grads, WEIGHT_NAMES, "bptt")

"""The symbolic engine, component by component, against the NumPy vector reference.

Two derivations that share nothing but the forward equations: SymPy's, with
n = 2, m = 2, p = 2, T = 3 written out as scalar symbols, and the hand-written
NumPy BPTT (itself checked against autograd and finite differences).
"""
import numpy as np

from reference.numeric.lstm import LSTMParams, lstm_backward, lstm_forward
from reference.numeric import rnn as nrnn
from reference.symbolic import evaluate as ev
from reference.symbolic.cells import LSTM, RNN
from reference.symbolic.graph import Graph

# The NumPy reference spells the homework's W_0^f as b_f.
SYMBOLIC_NAME = {"b_f": "W_0f", "b_i": "W_0i", "b_o": "W_0o", "b_c": "W_0c", "b_y": "W_0y"}
T, DIMS = 3, {"n": 2, "m": 2, "p": 2}


def _assign(point, sym_matrix, values):
    values = np.asarray(values, dtype=float).reshape(sym_matrix.shape)
    for idx, s in np.ndenumerate(np.empty(sym_matrix.shape)):
        point[sym_matrix[idx]] = float(values[idx])


def test_lstm_vector_gradients_agree_with_numpy_bptt_componentwise():
    rng = np.random.default_rng(7)
    params = LSTMParams.random(2, 2, 2, rng, scale=0.8)
    x, h0, C0 = rng.normal(size=(T, 2)), rng.normal(size=2), rng.normal(size=2)
    grad_y = rng.normal(size=(T, 2))
    trace = lstm_forward(params, x, h0, C0)
    grads = lstm_backward(params, trace, grad_y)

    g = Graph(LSTM, tuple(str(t) for t in range(T + 1)), DIMS)
    point = {}
    for name, value in params.to_dict().items():
        _assign(point, g.params[SYMBOLIC_NAME.get(name, name)], value)
    for t in range(1, T + 1):
        _assign(point, g.inputs[t], x[t - 1])
    _assign(point, g.value("h", 0), h0)
    _assign(point, g.value("C", 0), C0)
    env = ev.forward(g, point)
    for t in range(1, T + 1):
        for j, s in enumerate(g.value("y", t)):
            env[g.seeds[s]] = float(grad_y[t - 1, j])
    swept = ev.backward(g, env)

    for t in range(1, T + 1):
        for name, numpy_grad in (("h", grads.grad_h), ("C", grads.grad_C), ("f", grads.grad_f),
                                 ("i", grads.grad_i), ("o", grads.grad_o), ("Ct", grads.grad_Ct)):
            got = [swept[s] for s in g.value(name, t)]
            np.testing.assert_allclose(got, numpy_grad[t - 1], rtol=1e-12, atol=1e-14, err_msg=f"{name}_{t}")
        np.testing.assert_allclose([env[s] for s in g.value("y", t)], trace.y[t - 1], rtol=1e-13)
    for name, numpy_grad in grads.params.to_dict().items():
        sym = g.params[SYMBOLIC_NAME.get(name, name)]
        got = np.array([swept[s] for s in sym]).reshape(np.shape(numpy_grad))
        np.testing.assert_allclose(got, numpy_grad, rtol=1e-12, atol=1e-14, err_msg=name)


def test_rnn_vector_gradients_agree_with_numpy_bptt_componentwise():
    rng = np.random.default_rng(11)
    W, U, b = rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), rng.normal(size=2)
    x, h0, up = rng.normal(size=(T, 2)), rng.normal(size=2), rng.normal(size=(T, 2))
    trace = nrnn.rnn_forward(W, U, b, x, h0)
    grads = nrnn.rnn_backward(W, U, trace, grad_h=up)

    g = Graph(RNN, tuple(str(t) for t in range(T + 1)), DIMS)
    point = {}
    for name, value in (("W", W), ("U", U), ("b", b)):
        _assign(point, g.params[name], value)
    for t in range(1, T + 1):
        _assign(point, g.inputs[t], x[t - 1])
    _assign(point, g.value("h", 0), h0)
    env = ev.forward(g, point)
    for t in range(1, T + 1):
        for j, s in enumerate(g.value("h", t)):
            env[g.seeds[s]] = float(up[t - 1, j])
    swept = ev.backward(g, env)
    for name, numpy_grad in (("W", grads.W), ("U", grads.U), ("b", grads.b)):
        got = np.array([swept[s] for s in g.params[name]]).reshape(np.shape(numpy_grad))
        np.testing.assert_allclose(got, numpy_grad, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose([swept[s] for s in g.value("h", 0)], grads.h0, rtol=1e-12)

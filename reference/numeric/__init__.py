"""NumPy float64 reference for the LSTM/RNN homework: everything the grader
checks students against is computed here.

Modules: ``activations`` (stable sigmoid/tanh), ``lstm`` (homework notation,
single sequence or time-major batch), ``packed`` (the i,f,o,g packed
batch-first layout of course materials), ``rnn`` (vanilla RNN and the
seed-002 gradient/bound quantities).  The homework-layout API is re-exported
here; the packed layout keeps its own ``lstm_forward``/``lstm_backward`` and
is used as ``reference.numeric.packed``.
"""
from . import activations, lstm, packed, rnn
from .activations import dsigmoid, dtanh, sigmoid, tanh
from .lstm import (
    PARAM_NAMES,
    LSTMGrads,
    LSTMParams,
    LSTMTrace,
    cell_jacobian,
    cell_path_factor,
    lstm_backward,
    lstm_forward,
)
from .rnn import (
    LSTMCellBound,
    RNNGrads,
    RNNTrace,
    lstm_cell_jacobian_bound,
    lstm_cell_path_gradient,
    rnn_backward,
    rnn_forward,
    rnn_grad_k_steps_back,
    rnn_norm_bound,
    rnn_norm_bound_data,
    rnn_state_jacobian,
)

__all__ = [
    "activations", "lstm", "packed", "rnn",
    "sigmoid", "tanh", "dsigmoid", "dtanh",
    "PARAM_NAMES", "LSTMParams", "LSTMTrace", "LSTMGrads",
    "lstm_forward", "lstm_backward", "cell_path_factor", "cell_jacobian",
    "RNNTrace", "RNNGrads", "rnn_forward", "rnn_backward",
    "rnn_state_jacobian", "rnn_grad_k_steps_back", "rnn_norm_bound", "rnn_norm_bound_data",
    "lstm_cell_path_gradient", "LSTMCellBound", "lstm_cell_jacobian_bound",
]

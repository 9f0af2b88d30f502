"""Reference gradients for LSTM/RNN homework, derived rather than typed."""

"""lstm-autograder: grade hand-derived LSTM backpropagation."""

"""Weights of any zoo or Keras LSTM layer in one layout (keras.layers.LSTMCell's)."""

from zoo.layers import GateLSTMCell
from zoo.layers import fused_to_gate_weights
from zoo.layers import gate_to_fused_weights


def get_lstm_weights(layer):
    """`[kernel, recurrent_kernel, bias]` of any zoo/Keras LSTM layer, in the fused layout."""
    if isinstance(getattr(layer, "cell", None), GateLSTMCell):
        return gate_to_fused_weights(layer)
    return layer.get_weights()


def set_lstm_weights(layer, kernel, recurrent_kernel, bias):
    """Sets fused-layout weights on a FusedLSTM, RNN(GateLSTMCell) or keras.layers.LSTM."""
    weights = [kernel, recurrent_kernel, bias]
    if isinstance(getattr(layer, "cell", None), GateLSTMCell):
        weights = fused_to_gate_weights(weights)
    layer.set_weights(weights)

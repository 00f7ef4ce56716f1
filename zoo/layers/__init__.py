"""Keras layers of the zoo: exact, serializable, backend-agnostic LSTM parts.

Needs only Keras 3 (any backend); importing it does not import TensorFlow.

- `GateLSTMCell`: gate-by-gate LSTM cell (four matmul pairs per step).
- `FusedLSTMCell`: one matmul pair per step, `keras.layers.LSTMCell` layout.
- `FusedLSTM`: the fast RNN layer (input projection hoisted out of the loop;
  the backend's cuDNN LSTM on a GPU), a drop-in for `keras.layers.LSTM`.
- `BigramEmbedding`: embeddings of pairs of consecutive symbols.
- `gate_to_fused_weights`, `fused_to_gate_weights`: weight conversion.
"""

from zoo.layers.bigram_embedding import BigramEmbedding
from zoo.layers.fused_lstm import FusedLSTM
from zoo.layers.fused_lstm_cell import FusedLSTMCell
from zoo.layers.gate_lstm_cell import GateLSTMCell
from zoo.layers.weight_conversion import fused_to_gate_weights
from zoo.layers.weight_conversion import gate_to_fused_weights

__all__ = [
    "BigramEmbedding",
    "FusedLSTM",
    "FusedLSTMCell",
    "GateLSTMCell",
    "fused_to_gate_weights",
    "gate_to_fused_weights",
]

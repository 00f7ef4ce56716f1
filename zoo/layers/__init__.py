"""Keras layers of the zoo: exact, serializable, backend-agnostic LSTM parts.

Needs only Keras 3 (any backend); importing it does not import TensorFlow.

- `GateLSTMCell`: gate-by-gate LSTM cell (four matmul pairs per step).
- `FusedLSTMCell`: one matmul pair per step, `keras.layers.LSTMCell` layout.
- `FusedLSTM`: the fast RNN layer (input projection hoisted out of the loop;
  the backend's cuDNN LSTM on a GPU), a drop-in for `keras.layers.LSTM`.
- `BigramEmbedding`: embeddings of pairs of consecutive symbols.
- `gate_to_fused_weights`, `fused_to_gate_weights`: weight conversion.
- `lstm_layer(kind, units, ...)`: the LSTM layer of a cell kind (`zoo.checks.CELLS`).

AWD-LSTM regularisation (Merity et al. 2017), next to Keras's own
`keras.layers.SpatialDropout1D` for locked (variational) dropout:

- `TiedEmbedding`: input embedding whose transpose, plus a bias, is the output layer.
- `EmbeddingDropout`: drops whole words (one mask over the vocabulary per batch).
- `ActivationRegularization`: AR and TAR penalties added to the training loss.
"""

from zoo.layers.activation_regularization import ActivationRegularization
from zoo.layers.bigram_embedding import BigramEmbedding
from zoo.layers.embedding_dropout import EmbeddingDropout
from zoo.layers.factory import lstm_layer
from zoo.layers.fused_lstm import FusedLSTM
from zoo.layers.fused_lstm_cell import FusedLSTMCell
from zoo.layers.gate_lstm_cell import GateLSTMCell
from zoo.layers.tied_embedding import TiedEmbedding
from zoo.layers.weight_conversion import fused_to_gate_weights
from zoo.layers.weight_conversion import gate_to_fused_weights

__all__ = [
    "ActivationRegularization",
    "BigramEmbedding",
    "EmbeddingDropout",
    "FusedLSTM",
    "FusedLSTMCell",
    "GateLSTMCell",
    "TiedEmbedding",
    "fused_to_gate_weights",
    "gate_to_fused_weights",
    "lstm_layer",
]

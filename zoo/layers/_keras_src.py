"""The one module of the zoo that imports Keras's private `keras.src` (private).

Every symbol below has no public equivalent in Keras 3 (checked against Keras
3.15.1; `setup.cfg` pins `keras<3.16`, so a Keras upgrade starts here). Code
elsewhere in the zoo uses public `keras`, `keras.ops` and `keras.tree`, and
reaches these through this module's attributes (`_keras_src.lstm(...)`), so a
test can stand in for one with `monkeypatch.setattr(_keras_src, "lstm", ...)`.
`tests/layers/test_keras_src_shim.py` fails if any other zoo module imports
`keras.src`.

- `DropoutRNNCell`: the mixin that gives a custom cell variational dropout.
  `keras.layers.RNN` asks it for one dropout mask per sequence before its loop
  and clears the masks afterwards. Keras exports it nowhere; the public
  alternatives (a mask drawn inside the cell, or `Dropout` with a
  `noise_shape` outside the RNN) would change when and how masks are drawn.
- `lstm`: the backend's whole-sequence LSTM that `keras.layers.LSTM` hands a
  call to on a GPU (`CudnnRNNV3` on TensorFlow, `jax.experimental.rnn` on
  JAX); it raises `NotImplementedError` where it cannot run. The only public
  way to reach cuDNN is a `keras.layers.LSTM` layer, which owns its weights.
- `cudnn_ok`: the backend's own test of whether `lstm` can run here (a cuDNN
  GPU, standard activations), the one `keras.layers.LSTM` uses.
- `rnn`: the backend's masked recurrence, the loop of `keras.layers.RNN`. It
  carries states over masked steps and repeats the previous output there (or
  zeros, `zero_output_for_mask`), with `go_backwards` and `unroll`, exactly as
  every Keras RNN does on each backend. `keras.ops.scan` is public but takes
  no mask; `FusedLSTM`'s masked loop uses `rnn` so masks mean the same as in
  `keras.layers.LSTM`. Unmasked loops use `keras.ops.scan`.
"""

from keras.src.backend import cudnn_ok
from keras.src.backend import lstm
from keras.src.backend import rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["DropoutRNNCell", "cudnn_ok", "lstm", "rnn"]

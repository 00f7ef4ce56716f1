"""BigramEmbedding: embeds pairs of consecutive symbols (text8 notebook)."""

import keras
import numpy as np
from keras import ops

from zoo import checks


_MODES = ("valid", "same")
_INT32_MAX = 2**31 - 1


def _concrete_numpy(x):
    """`x` as numpy if its values are known now (eager), else `None`."""
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.asarray(x)
    if keras.utils.is_keras_tensor(x):
        return None
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # Symbolic (tf.function) or traced (jax.jit) values.
        return None


@keras.saving.register_keras_serializable(package="zoo")
class BigramEmbedding(keras.layers.Layer):
    """Embeds each pair of consecutive symbols with its own learned vector.

    The text8 notebook's bigram LSTM input: the pair `(a, b)` of the symbols
    at times `t` and `t + 1` selects row `a + vocab_size * b` of a table of
    `vocab_size ** 2` rows. Meant for character-level vocabularies (text8 has
    27 symbols, 729 bigrams): the table grows with the square of the vocabulary.

    Two modes decide the output length and what the first position sees:

    - `mode="valid"` (the notebook): `time - 1` outputs, output `t` embeds
      the pair `(x[t], x[t + 1])`.
    - `mode="same"`: `time` outputs, output `t` embeds the pair
      `(x[t - 1], x[t])`; position 0 has no predecessor inside the batch
      and embeds the pair `(<start>, x[0])`, one of `vocab_size` extra
      learned "start" rows stored after the bigram rows (row
      `vocab_size ** 2 + x[0]`). So `same[:, 1:]` equals `valid` on the same
      table, and output `t` only depends on symbols up to `t` (causal: safe
      for next-symbol prediction).

    Inputs are integer ids `(batch, time)` in `[0, vocab_size)` or one-hot
    floats `(batch, time, vocab_size)` (ids = argmax). Out-of-range ids and
    non-one-hot rows raise `ValueError` when the layer is called eagerly;
    inside a compiled function the values are not known and are not checked
    (an out-of-range row then errors on TF-CPU and is clipped on JAX).

    Args:
        vocab_size: int, number of symbols `V`; the table has `V ** 2` rows
            (`V ** 2 + V` with `mode="same"`).
        output_dim: int, size of each embedding vector.
        embeddings_initializer: initializer of the table. Defaults to
            `"uniform"` (Keras's ±0.05); the notebook uses
            `keras.initializers.RandomUniform(-1.0, 1.0)`.
        embeddings_regularizer: regularizer of the table. Defaults to `None`.
        mode: `"valid"` or `"same"`, see above. Defaults to `"valid"`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: int tensor `(batch, time)` or one-hot tensor
            `(batch, time, vocab_size)`.

    Example:
    ```python
    layer = zoo.layers.BigramEmbedding(27, 128, mode="same")
    ids = np.array([[1, 2, 3, 0]])
    layer(ids).shape  # (1, 4, 128); "valid" would give (1, 3, 128)
    ```
    """

    def __init__(
        self,
        vocab_size,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        mode="valid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = checks.positive_int("vocab_size", vocab_size)
        self.output_dim = checks.positive_int("output_dim", output_dim)
        if vocab_size**2 + vocab_size > _INT32_MAX:
            raise ValueError(
                "Argument `vocab_size` is too large for a bigram table "
                f"(vocab_size**2 rows must fit int32). Received: "
                f"vocab_size={vocab_size}"
            )
        self.mode = checks.one_of("mode", mode, _MODES)
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.embeddings_regularizer = keras.regularizers.get(
            embeddings_regularizer
        )
        self.num_rows = vocab_size**2 + (vocab_size if mode == "same" else 0)

    def _check_shape(self, input_shape):
        checks.rank(
            type(self).__name__,
            input_shape,
            (2, 3),
            "ids: batch, time; or one-hot: batch, time, vocab_size",
        )
        if len(input_shape) == 3 and input_shape[-1] != self.vocab_size:
            raise ValueError(
                "Argument `inputs` of BigramEmbedding, when one-hot, must have "
                f"last dimension vocab_size={self.vocab_size}. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.embeddings = self.add_weight(
            shape=(self.num_rows, self.output_dim),
            name="embeddings",
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
        )
        self.built = True

    def _check_values(self, inputs):
        values = _concrete_numpy(inputs)
        if values is None:
            return
        if values.ndim == 3:
            if not (
                np.all((values == 0) | (values == 1))
                and np.all(values.sum(axis=-1) == 1)
            ):
                raise ValueError(
                    "Argument `inputs` of BigramEmbedding, when rank 3, must "
                    "be one-hot along the last axis."
                )
            return
        if values.size and (values.min() < 0 or values.max() >= self.vocab_size):
            raise ValueError(
                f"Argument `inputs` of BigramEmbedding must hold ids in "
                f"[0, {self.vocab_size}). Received: min={values.min()}, "
                f"max={values.max()}"
            )

    def __call__(self, inputs, *args, **kwargs):
        # Checked here, not in call(), so the error stays a one-line message.
        self._check_values(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        if len(inputs.shape) == 3:
            ids = ops.argmax(inputs, axis=-1)
        else:
            ids = inputs
        ids = ops.cast(ids, "int32")
        v = self.vocab_size
        pairs = ids[:, :-1] + v * ids[:, 1:]
        if self.mode == "same":
            start = v * v + ids[:, :1]
            pairs = ops.concatenate([start, pairs], axis=1)
        return ops.take(self.embeddings, pairs, axis=0)

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        batch, time = input_shape[0], input_shape[1]
        if self.mode == "valid" and time is not None:
            time = max(time - 1, 0)
        return (batch, time, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "output_dim": self.output_dim,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
                "mode": self.mode,
            }
        )
        return config

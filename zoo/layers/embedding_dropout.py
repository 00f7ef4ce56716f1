"""EmbeddingDropout: drops whole words from a batch (AWD-LSTM's embedding dropout)."""

import keras
from keras import ops

from zoo import checks
from zoo.layers._pair_layer import PairLayer


@keras.saving.register_keras_serializable(package="zoo")
class EmbeddingDropout(PairLayer):
    """Drops whole words: one Bernoulli mask over the vocabulary per call.

    AWD-LSTM's embedding dropout (Gal & Ghahramani 2016; Merity et al. 2017)
    drops rows of the embedding matrix, so every occurrence of a dropped word
    in the batch becomes the zero vector, and scales the kept rows by
    `1 / (1 - rate)`. This layer does the same without touching the matrix:
    it takes the word ids and any embedding's output for them and returns

        embedded * mask[ids][..., None] / (1 - rate)

    with `mask` of shape `(input_dim,)` drawn once per call (so once per
    training batch). That equals looking the ids up in
    `embeddings * mask[:, None] / (1 - rate)`, but the weights stay intact, so
    a tied output layer (`TiedEmbedding(..., reverse=True)`) sees the full
    matrix, as in the reference, whose output layer uses the raw weight.

    At inference (`training` false or unset) and with `rate=0` the layer
    returns `embedded` unchanged. Randomness comes from a
    `keras.random.SeedGenerator`: a seeded layer draws the same masks again,
    and the generator's state is a variable of the layer (saved with it).

    Args:
        input_dim: int, vocabulary size: ids are in `[0, input_dim)`.
        rate: float in `[0, 1)`, the probability of dropping a word. The
            AWD-LSTM PTB value is `0.1`.
        seed: int or `None`, seed of the layer's `SeedGenerator`. Defaults to
            `None` (unseeded).
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: pair `(ids, embedded)`: integer ids of any shape and the
            embedding of those ids, of shape `ids.shape + (dim,)`.
        training: bool, whether to drop. Defaults to `None` (no dropping
            unless Keras's training flag says so, as in `fit`).

    Returns:
        A tensor of `embedded`'s shape and dtype.

    Raises:
        ValueError: for a `rate` outside `[0, 1)` or an `input_dim` that is not
            a positive integer, or inputs that are not a matching pair.

    Example:
    ```python
    embedding = zoo.layers.TiedEmbedding(10_000, 400)
    drop_words = zoo.layers.EmbeddingDropout(10_000, rate=0.1, seed=1)
    ids = keras.Input((70,), dtype="int32")
    x = drop_words((ids, embedding(ids)))  # (None, 70, 400)
    ```

    References:
    - [Merity et al., 2017](https://arxiv.org/abs/1708.02182), section 4.3.
    - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1512.05287), section 4.2.
    - salesforce/awd-lstm-lm, `embed_regularize.py`.
    """

    def __init__(self, input_dim, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = checks.positive_int("input_dim", input_dim)
        self.rate = checks.rate("rate", rate, allow_one=False)
        if seed is not None:
            seed = checks.non_negative_int("seed", seed)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
                isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(
                "Argument `inputs` of EmbeddingDropout must be a pair (ids, embedded). "
                f"Received: inputs.shape={input_shape}")
        ids_shape, embedded_shape = (tuple(shape) for shape in input_shape)
        if len(embedded_shape) != len(ids_shape) + 1:
            raise ValueError(
                "Argument `inputs` of EmbeddingDropout must be (ids, embedded) with "
                "embedded.shape == ids.shape + (dim,). Received: "
                f"ids.shape={ids_shape}, embedded.shape={embedded_shape}")

    def call(self, inputs, training=None):
        ids, embedded = inputs
        if not training or self.rate == 0.0:
            return embedded
        keep = ops.cast(
            keras.random.uniform((self.input_dim,), seed=self.seed_generator) >= self.rate,
            embedded.dtype,
        )
        scale = ops.cast(1.0 / (1.0 - self.rate), embedded.dtype)
        word_mask = ops.take(keep * scale, ops.cast(ids, "int32"), axis=0)
        return embedded * ops.expand_dims(word_mask, -1)

    def get_config(self):
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "rate": self.rate, "seed": self.seed})
        return config

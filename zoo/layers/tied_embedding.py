"""TiedEmbedding: an embedding whose transpose is the output layer, plus an output bias."""

import copy

import keras
from keras import ops

from zoo import checks


@keras.saving.register_keras_serializable(package="zoo")
class TiedEmbedding(keras.layers.ReversibleEmbedding):
    """Tied input embedding and output projection with its own output bias.

    A `keras.layers.ReversibleEmbedding` with `tie_weights=True` (Press & Wolf
    2016; Inan et al. 2016) plus a bias on the logits, as AWD-LSTM's decoder:
    its weight is the embedding matrix, its bias is its own, initialised to 0.

    - `layer(ids)` looks the ids up: `(...)` int -> `(..., output_dim)`.
    - `layer(x, reverse=True)` projects back to the vocabulary:
      `(..., output_dim)` -> logits `x @ embeddings^T + output_bias`, of shape
      `(..., input_dim)`.

    The embedding matrix is one weight used both ways, so its gradient adds
    up the input and output contributions. For tying, the last recurrent
    layer's output size must equal `output_dim`.

    Args:
        input_dim: int, vocabulary size: ids are in `[0, input_dim)`.
        output_dim: int, size of each embedding vector.
        embeddings_initializer: initializer of the matrix. Defaults to
            `"uniform"` (Keras's ±0.05); AWD-LSTM uses
            `keras.initializers.RandomUniform(-0.1, 0.1)`.
        use_output_bias: bool, whether `reverse=True` adds a bias of shape
            `(input_dim,)`. Defaults to `True`.
        output_bias_initializer: initializer of that bias. Defaults to
            `"zeros"` (the reference's decoder bias).
        **kwargs: other keyword arguments of `keras.layers.ReversibleEmbedding`
            (`embeddings_regularizer`, `mask_zero`, `reverse_dtype`,
            `logit_soft_cap`, `name`, `dtype`, ...) except `tie_weights`,
            which is always `True` here.

    Call arguments:
        inputs: int ids, or with `reverse=True` a float tensor whose last
            axis has size `output_dim`.
        reverse: bool, whether to project back to logits. Defaults to `False`.

    Returns:
        Embeddings `(..., output_dim)`, or logits `(..., input_dim)` with
        `reverse=True`.

    Raises:
        ValueError: for an `input_dim` or `output_dim` that is not a positive
            integer, a `use_output_bias` that is not a bool, or
            `tie_weights=False`.

    Example:
    ```python
    embedding = zoo.layers.TiedEmbedding(10_000, 400)
    ids = keras.Input((70,), dtype="int32")
    hidden = keras.layers.LSTM(400, return_sequences=True)(embedding(ids))
    logits = embedding(hidden, reverse=True)  # (None, 70, 10000)
    ```

    References:
    - [Press & Wolf, 2016](https://arxiv.org/abs/1608.05859).
    - [Inan et al., 2016](https://arxiv.org/abs/1611.01462).
    - [Merity et al., 2017](https://arxiv.org/abs/1708.02182), section 4.5.
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        use_output_bias=True,
        output_bias_initializer="zeros",
        **kwargs,
    ):
        tie_weights = kwargs.pop("tie_weights", True)
        if tie_weights is not True:
            raise ValueError(
                "Argument `tie_weights` of TiedEmbedding must be True (use "
                "keras.layers.ReversibleEmbedding for untied weights). "
                f"Received: tie_weights={tie_weights!r}")
        super().__init__(
            checks.positive_int("input_dim", input_dim),
            checks.positive_int("output_dim", output_dim),
            tie_weights=True,
            embeddings_initializer=embeddings_initializer,
            **kwargs,
        )
        self.use_output_bias = checks.boolean("use_output_bias", use_output_bias)
        self.output_bias_initializer = keras.initializers.get(output_bias_initializer)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if self.use_output_bias:
            # Embedding.build set `built`; add the bias after it.
            self.output_bias = self.add_weight(
                shape=(self.input_dim,),
                initializer=self.output_bias_initializer,
                name="output_bias",
                trainable=True,
            )

    def call(self, inputs, reverse=False):
        outputs = super().call(inputs, reverse=reverse)
        if reverse and self.use_output_bias:
            outputs = outputs + ops.cast(self.output_bias, outputs.dtype)
        return outputs

    @property
    def variable_serialization_spec(self):
        # Embedding's save/load_own_variables store only the variables named
        # here: without the bias in it, a saved model fails to load.
        spec = copy.deepcopy(super().variable_serialization_spec)
        if self.use_output_bias:
            for names in spec.values():
                names.append("output_bias")
        return spec

    def get_config(self):
        config = super().get_config()
        config.pop("tie_weights", None)
        config.update(
            {
                "use_output_bias": self.use_output_bias,
                "output_bias_initializer": keras.initializers.serialize(
                    self.output_bias_initializer
                ),
            }
        )
        return config

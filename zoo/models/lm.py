"""Builders that turn an `LMConfig` into a plain `keras.Model`.

The models are the seeds' architectures, written as functional Keras models:

- word: `Embedding(V, E)` → dropout → `num_layers` × (LSTM → dropout) → `Dense(V)` logits;
- char: one-hot (a frozen identity embedding) or `Embedding(27, E)` → LSTMs → `Dense(27)`;
- bigram: `BigramEmbedding(27, E, mode="valid")` → dropout → LSTMs → dropout → `Dense(27)`:
  the input is `num_steps + 1` characters and the output `num_steps` predictions.

Every weight starts uniform in ±init_scale (embeddings in ±`embedding_init_scale` where set;
with `weight_init="notebook"` the LSTM and softmax matrices start as the text8 notebook's
`tf.truncated_normal(shape, -0.1, 0.1)`), the LSTM biases at zero, the softmax bias as
`config.softmax_bias_init` says (uniform in ±init_scale for the PTB recipes, as the tutorial's
`softmax_b`; zero for text8), the LSTM's forget bias is 0.0 (the PTB tutorial's), and the
LSTM is chosen by `config.cell`: the zoo's fast `FusedLSTM` (default), the gate-by-gate
`GateLSTMCell` in `keras.layers.RNN`, or `keras.layers.LSTM`. All three compute the same
function from the same weights.
"""

import keras
import numpy as np

from zoo import checks
from zoo.layers import BigramEmbedding
from zoo.layers.factory import lstm_layer
from zoo.models.awd import build_awd_lm
from zoo.models.awd_config import AWDConfig
from zoo.models.configs import LMConfig
from zoo.models.lstm_weights import set_lstm_weights


def make_lstm(cell, units, init_scale, seed=None, return_sequences=True, stateful=True,
              name=None, **kwargs):
    """The seeds' LSTM layer: uniform(±init_scale) weights, zero biases, forget bias 0.0."""
    init = keras.initializers.RandomUniform(-init_scale, init_scale, seed=seed)
    return lstm_layer(cell, units, kernel_initializer=init, recurrent_initializer=init,
                      bias_initializer="zeros", unit_forget_bias=False,
                      return_sequences=return_sequences, stateful=stateful, name=name,
                      **kwargs)


def input_length(config, num_steps=None):
    """Timesteps one input row holds: num_steps, plus one for the bigram models."""
    steps = config.num_steps if num_steps is None else num_steps
    return steps + 1 if config.family == "bigram" else steps


def build_lm(config, vocab_size=None, batch_size=None, num_steps=None, stateful=True,
             seed=None, name=None):
    """Builds the (uncompiled) language model of `config`.

    Args:
        config: LMConfig, the recipe.
        vocab_size: int, the data's vocabulary size. Defaults to `config.vocab_size`.
        batch_size: int, the static batch size (stateful RNNs need one). Defaults to
            `config.batch_size`. Use 1 for evaluation and sampling copies.
        num_steps: int, timesteps per batch. Defaults to `config.num_steps`.
        stateful: bool, carry LSTM states across batches.
        seed: int or None, seeds the weight initializers and dropout.
        name: str or None, the model's name.

    Returns:
        keras.Model mapping int ids `(batch, input_length)` to float32 logits
        `(batch, num_steps, vocab_size)`.
    """
    if not isinstance(config, LMConfig):
        raise ValueError(f"{config.name} is a {type(config).__name__}, not a language model; "
                         "build it with zoo.models.mirror.build_mirror_model")
    vocab_size = checks.positive_int(
        "vocab_size", config.vocab_size if vocab_size is None else vocab_size)
    batch_size = checks.positive_int(
        "batch_size", config.batch_size if batch_size is None else batch_size)
    if isinstance(config, AWDConfig):
        return build_awd_lm(config, vocab_size, batch_size, num_steps=num_steps,
                            stateful=stateful, seed=seed, name=name)
    # The order of the steps below is the order the initializers and dropout layers take
    # their seeds in: reordering them changes every seeded model.
    draws = _SeededDraws(config, seed)
    inputs = keras.Input(batch_shape=(batch_size, input_length(config, num_steps)),
                         dtype="int32", name="ids")
    x, embedding = _embed(config, vocab_size, inputs, draws)
    x = draws.dropout(x, "input")
    x, lstms = _lstm_stack(config, x, stateful, draws)
    logits = _logits(config, vocab_size, x, embedding, draws)
    model = keras.Model(inputs, logits, name=name or config.name.replace("-", "_"))
    _draw_lstm_weights(config, lstms, seed)
    return model


class _SeededDraws:
    """The initializers and dropout layers of one `build_lm`, seeded one after another.

    Each initializer or dropout layer takes the next seed of `seed * 1000, seed * 1000 + 1,
    ...` (all `None` without a seed), in the order they are asked for.
    """

    def __init__(self, config, seed):
        self.config = config
        self.seeded = seed is not None
        self.seeds = iter(range(0 if seed is None else seed * 1000, 10**9))

    def next_seed(self):
        return next(self.seeds) if self.seeded else None

    def uniform(self, scale=None):
        scale = self.config.init_scale if scale is None else scale
        return keras.initializers.RandomUniform(-scale, scale, seed=self.next_seed())

    def embedding(self):
        return self.uniform(self.config.embedding_init_scale or self.config.init_scale)

    def matrix(self):
        """The softmax kernel's initializer (the LSTM matrices are drawn the same way)."""
        if self.config.weight_init == "notebook":  # Keras truncates at two stddevs, as TF
            s = self.config.init_scale
            return keras.initializers.TruncatedNormal(mean=-s, stddev=s, seed=self.next_seed())
        return self.uniform()

    def dropout(self, x, tag):
        """`x` through `Dropout(config.dropout)` named `dropout_{tag}`; `x` at rate 0."""
        if self.config.dropout > 0:
            x = keras.layers.Dropout(self.config.dropout, seed=self.next_seed(),
                                     name=f"dropout_{tag}")(x)
        return x


def _embed(config, vocab_size, inputs, draws):
    """The ids embedded: `(x, embedding)`, the embedding layer where weights may be tied."""
    if config.family == "word":
        dim = config.embedding_size or config.hidden_size
        if config.tie_weights:
            embedding = keras.layers.ReversibleEmbedding(
                vocab_size, dim, tie_weights=True, embeddings_initializer=draws.embedding(),
                name="embedding"
            )
        else:
            embedding = keras.layers.Embedding(
                vocab_size, dim, embeddings_initializer=draws.embedding(), name="embedding"
            )
        return embedding(inputs), embedding
    if config.family == "char":
        if config.embedding_size is None:
            # One-hot input, as the notebook's: a frozen identity embedding.
            return keras.layers.Embedding(vocab_size, vocab_size,
                                          embeddings_initializer="identity",
                                          trainable=False, name="one_hot")(inputs), None
        return keras.layers.Embedding(vocab_size, config.embedding_size,
                                      embeddings_initializer=draws.embedding(),
                                      name="embedding")(inputs), None
    bigram = BigramEmbedding(vocab_size, config.embedding_size or config.hidden_size,
                             mode="valid", embeddings_initializer=draws.embedding(),
                             name="bigram_embedding")
    return bigram(inputs), None


def _lstm_stack(config, x, stateful, draws):
    """`x` through the recipe's LSTMs, each followed by dropout: `(x, lstm_layers)`."""
    lstms = []
    for i, units in enumerate(config.layer_sizes):
        lstms.append(make_lstm(config.cell, units, config.init_scale, stateful=stateful,
                               name=f"lstm_{i}"))
        x = draws.dropout(lstms[-1](x), f"lstm_{i}")
    return x, lstms


def _logits(config, vocab_size, x, embedding, draws):
    """float32 logits of `x`: the tied embedding reversed, or a `Dense(vocab_size)`."""
    if config.tie_weights and embedding is not None:
        logits = embedding(x, reverse=True)
    else:
        kernel_init = draws.matrix()  # drawn before the bias: its seed is the same as before
        bias_init = draws.uniform() if config.softmax_bias_init == "uniform" else "zeros"
        logits = keras.layers.Dense(vocab_size, kernel_initializer=kernel_init,
                                    bias_initializer=bias_init, name="softmax")(x)
    return keras.layers.Activation("linear", dtype="float32", name="logits")(logits)


def _draw_lstm_weights(config, lstms, seed):
    """Sets the LSTMs' initial weights, drawn in `keras.layers.LSTM`'s layout.

    The three cells draw their initial weights in different shapes (the gate cell has
    twelve arrays), so the LSTM weights are drawn here once and converted: at equal seed,
    fused, gate and keras models start identical.
    """
    rng = np.random.default_rng(None if seed is None else [seed, 7])
    for layer in lstms:
        set_lstm_weights(layer, *_initial_lstm_weights(rng, layer.input.shape[-1],
                                                       layer.cell.units, config.init_scale,
                                                       config.weight_init))


def _initial_lstm_weights(rng, input_dim, units, scale, weight_init="uniform"):
    def draw(shape):
        if weight_init == "notebook":
            return truncated_normal(rng, -scale, scale, shape)
        return rng.uniform(-scale, scale, shape)

    kernel = draw((input_dim, 4 * units)).astype("float32")
    recurrent = draw((units, 4 * units)).astype("float32")
    return kernel, recurrent, np.zeros((4 * units,), "float32")


def truncated_normal(rng, mean, stddev, shape):
    """Normal(mean, stddev) samples, each redrawn until within two stddevs of the mean.

    `tf.truncated_normal`'s and `keras.initializers.TruncatedNormal`'s distribution, drawn
    with a numpy `Generator` `rng`.
    """
    out = rng.normal(mean, stddev, shape)
    bad = np.abs(out - mean) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(mean, stddev, int(bad.sum()))
        bad = np.abs(out - mean) > 2 * stddev
    return out


def compile_lm(model, config, jit_compile="auto"):
    """Compiles `model` with the recipe's optimizer, loss and perplexity metric.

    SGD with `global_clipnorm=max_grad_norm` (a float learning rate, so
    `keras.callbacks.LearningRateScheduler` can drive it), the token cross-entropy scaled by
    `num_steps` where the recipe sums over time (`loss_scale="num_steps"`), and `Perplexity`.
    """
    from zoo.training import AveragedSGD, Perplexity, ScaledSparseCategoricalCrossentropy

    scale = float(config.num_steps) if config.loss_scale == "num_steps" else 1.0
    if isinstance(config, AWDConfig):  # NT-ASGD: SGD that can average its iterates
        optimizer = AveragedSGD(config.learning_rate, nonmono=config.nonmono,
                                global_clipnorm=config.max_grad_norm,
                                weight_decay=config.weight_decay or None)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate,
                                         global_clipnorm=config.max_grad_norm)
    model.compile(
        optimizer=optimizer,
        loss=ScaledSparseCategoricalCrossentropy(scale=scale, from_logits=True),
        metrics=[Perplexity(from_logits=True, name="perplexity")],
        jit_compile=jit_compile,
    )
    return model


def copy_to_batch(model, config, vocab_size, batch_size=1, num_steps=None):
    """A stateful copy of `model` with another static batch size and length, same weights.

    The PTB tutorial tests at batch 1 with a second model sharing the trained weights; this is
    that second model (and the sampler's: batch 1, one step).
    """
    clone = build_lm(config, vocab_size=vocab_size, batch_size=batch_size, num_steps=num_steps,
                     stateful=True)
    clone.set_weights(model.get_weights())
    return clone

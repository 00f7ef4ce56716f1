"""`build_awd_lm`: the AWD-LSTM language model of an `AWDConfig`, from the zoo's Keras pieces.

    ids ─ TiedEmbedding ─ EmbeddingDropout ─ SpatialDropout1D (dropout_input)
        ─ [LSTM(weight_dropout) ─ SpatialDropout1D (dropout_hidden)] × (num_layers − 1)
        ─ LSTM(weight_dropout, embedding_size units) ─ SpatialDropout1D (dropout_output)
        ─ ActivationRegularization (AR on the dropped, TAR on the raw output; named "hidden")
        ─ TiedEmbedding(reverse=True): logits = h · Eᵀ + b

Every layer is a public Keras object (`zoo.layers` or Keras's own), so the same model can be
written by hand; `SpatialDropout1D` is the locked dropout (one mask per sequence). The layer
named `"hidden"` outputs the state the softmax reads (what the cache pointer keys on).
"""

import keras
import numpy as np

from zoo import checks
from zoo.layers import ActivationRegularization
from zoo.layers import EmbeddingDropout
from zoo.layers import TiedEmbedding
from zoo.layers.factory import lstm_layer
from zoo.models.lstm_weights import set_lstm_weights


def build_awd_lm(config, vocab_size, batch_size, num_steps=None, stateful=True, seed=None,
                 name=None):
    """Builds the (uncompiled) AWD-LSTM language model of `config`.

    Args:
        config: AWDConfig, the recipe.
        vocab_size: int, the data's vocabulary size.
        batch_size: int, the static batch size (stateful RNNs need one).
        num_steps: int or None, timesteps per batch; None takes `config.num_steps`, or an
            unknown length (`(batch, None)` input) with `config.variable_bptt`.
        stateful: bool, carry the LSTM states across batches.
        seed: int or None, seeds the weights and every dropout mask.
        name: str or None, the model's name.

    Returns:
        keras.Model mapping int ids `(batch, time)` to float32 logits `(batch, time, vocab)`.
    """
    vocab_size = checks.positive_int("vocab_size", vocab_size)
    if num_steps is None and not config.variable_bptt:
        num_steps = config.num_steps
    seeds = iter(range(0 if seed is None else seed * 1000, 10**9))

    def next_seed():
        return None if seed is None else next(seeds)

    dim = config.embedding_size or config.hidden_size
    scale = config.init_scale
    init = keras.initializers.RandomUniform(-scale, scale, seed=next_seed())
    ids = keras.Input(batch_shape=(batch_size, num_steps), dtype="int32", name="ids")
    if config.tie_weights:
        embedding = TiedEmbedding(vocab_size, dim, embeddings_initializer=init,
                                  name="embedding")
    else:
        embedding = keras.layers.Embedding(vocab_size, dim, embeddings_initializer=init,
                                           name="embedding")
    x = embedding(ids)
    x = EmbeddingDropout(vocab_size, config.dropout_embedding, seed=next_seed(),
                         name="embedding_dropout")((ids, x))
    x = keras.layers.SpatialDropout1D(config.dropout_input, seed=next_seed(),
                                      name="input_dropout")(x)
    lstms = []
    for i, units in enumerate(config.layer_sizes):
        last = i == config.num_layers - 1
        lstms.append(lstm_layer(config.cell, units, weight_dropout=config.weight_dropout,
                                seed=next_seed(), unit_forget_bias=False,
                                return_sequences=True, stateful=stateful, name=f"lstm_{i}"))
        raw = lstms[-1](x)
        x = keras.layers.SpatialDropout1D(
            config.dropout_output if last else config.dropout_hidden, seed=next_seed(),
            name="output_dropout" if last else f"hidden_dropout_{i}")(raw)
    x = ActivationRegularization(config.ar_alpha, config.tar_beta, name="hidden")((raw, x))
    if config.tie_weights:
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocab_size, kernel_initializer=init,
                                    bias_initializer="zeros", name="softmax")(x)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    model = keras.Model(ids, logits, name=name or config.name.replace("-", "_"))
    rng = np.random.default_rng(None if seed is None else [seed, 7])
    for layer in lstms:
        set_lstm_weights(layer, *_initial_lstm_weights(rng, config, layer.input.shape[-1],
                                                       layer.cell.units))
    return model


def _initial_lstm_weights(rng, config, input_dim, units):
    """`[kernel, recurrent_kernel, bias]` as `config.lstm_init` says, in Keras's layout."""
    if config.lstm_init == "uniform":
        k, bias_draws = config.init_scale, 0
    else:  # torch.nn.LSTM: U(±1/sqrt(units)) for every weight; two biases, b_ih + b_hh
        k, bias_draws = 1.0 / np.sqrt(units), 2
    kernel = rng.uniform(-k, k, (input_dim, 4 * units))
    recurrent = rng.uniform(-k, k, (units, 4 * units))
    bias = sum((rng.uniform(-k, k, 4 * units) for _ in range(bias_draws)),
               np.zeros(4 * units))
    return [w.astype("float32") for w in (kernel, recurrent, bias)]

"""Dynamic evaluation (Krause et al. 2017): adapting a language model to the text it scores.

The stream is read at batch 1 in segments of the model's static length `T`. Each segment is
scored first, then one gradient step is taken on its (already scored) loss, the mean token
cross-entropy, and the weights decay toward the trained ones `θ0`:

    sgd:  θ ← θ - lr · g + decay · (θ0 - θ)
    rms:  θ ← θ - lr · g / (rms + ε) + decay · r · (θ0 - θ)

`rms` is the root mean square of the gradients over training batches
(`gradient_statistics`) and `r = min(rms / mean(rms), 1 / decay)`, its mean taken per weight
array and then over the arrays, as in benkrause/dynamic-evaluation's `dynamiceval.py`.
The gradient is taken at inference (dropout off) at the weights that scored the segment,
the state carrying over. `lr` and `decay` are tuned on the validation split
(`tune_dynamic_eval`), never on test. The model's trained weights are restored afterwards.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo import checks
from zoo.training import _stream
from zoo.training.states import find_stateful_rnn_layers
from zoo.training.states import reset_rnn_states

METHODS = ("sgd", "rms")
#: Default search grids of `tune_dynamic_eval` (segments of 5 tokens at PTB scale, sgd).
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3)
DECAYS = (0.0, 0.001, 0.01, 0.03)


def check_dynamic_args(learning_rate, decay, method="sgd", epsilon=2e-5):
    """`(learning_rate, decay, method, epsilon)` checked and converted; ValueError otherwise."""
    return (checks.non_negative_number("learning_rate", learning_rate),
            checks.number_in("decay", decay, 0, 1), checks.one_of("method", method, METHODS),
            checks.positive_number("epsilon", epsilon))


def _dense(gradient, variable):
    """`gradient` as a dense tensor of `variable`'s dtype.

    TensorFlow hands an embedding's gradient over as `IndexedSlices`, which `ops.square`
    would square slice by slice, before repeated rows are summed; adding it to zeros sums
    them first (`ops.convert_to_tensor(..., sparse=False)` leaves IndexedSlices as they are).
    """
    return ops.add(ops.zeros(variable.shape, variable.dtype), ops.cast(gradient, variable.dtype))


@keras.saving.register_keras_serializable(package="zoo")
class DynamicEvaluation(keras.optimizers.Optimizer):
    """The dynamic-evaluation update as a Keras optimizer: a step, then decay toward `θ0`.

    `θ0`, the weights when the optimizer is built, is kept in optimizer variables. For
    `method="rms"` call `set_gradient_statistics` before the first step.

    Args:
        learning_rate: float >= 0, the step size `lr`.
        decay: float in [0, 1], the pull toward the trained weights per step. Defaults to
            `0.0`.
        method: `"sgd"` or `"rms"` (see the module's docstring). Defaults to `"sgd"`.
        epsilon: float > 0, added to the gradient RMS (`rms` only). Defaults to `2e-5`
            (the reference's).
        name: str. Defaults to `"dynamic_evaluation"`.
        **kwargs: the other arguments of `keras.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate, decay=0.0, method="sgd", epsilon=2e-5,
                 name="dynamic_evaluation", **kwargs):
        learning_rate, decay, method, epsilon = check_dynamic_args(learning_rate, decay,
                                                                   method, epsilon)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.decay = decay
        self.method = method
        self.epsilon = epsilon
        self._statistics = None

    def set_gradient_statistics(self, rms):
        """Sets the per-weight gradient RMS, a list aligned with the trainable variables."""
        self._statistics = [np.asarray(a, dtype="float32") for a in rms]

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Values go in through initializers: Keras may build inside a traced step, where
        # an `assign` here would not persist (the initializers run eagerly).
        self._originals = [self._constant(v, v, "original") for v in var_list]
        if self.method != "rms":
            return
        stats = self._statistics
        if stats is None or [tuple(s.shape) for s in stats] != [tuple(v.shape)
                                                                 for v in var_list]:
            got = None if stats is None else [tuple(s.shape) for s in stats]
            raise ValueError("`method='rms'` needs gradient statistics shaped as the "
                             f"trainable variables {[tuple(v.shape) for v in var_list]} (see "
                             f"`gradient_statistics`). Received: statistics of shapes {got}")
        mean = max(float(np.mean([s.mean() for s in stats])), 1e-30)
        cap = 1.0 / self.decay if self.decay > 0 else np.inf
        self._rms = [self._constant(v, s, "rms") for v, s in zip(var_list, stats)]
        self._rates = [self._constant(v, np.minimum(s / mean, cap), "decay_rate")
                       for v, s in zip(var_list, stats)]

    def _constant(self, reference, value, tag):
        """A new optimizer variable shaped as `reference`, holding a copy of `value` (read
        eagerly; a copy, since JAX donates the buffers of both variables to the step)."""
        return self.add_variable(
            shape=reference.shape, dtype=reference.dtype, name=f"{reference.name}_{tag}",
            initializer=lambda shape, dtype=None: ops.copy(ops.cast(value, dtype)))

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        lr = ops.cast(learning_rate, variable.dtype)
        g = _dense(gradient, variable)
        pull = ops.subtract(self._originals[i], variable)
        if self.method == "rms":
            g = ops.divide(g, ops.add(self._rms[i], self.epsilon))
            pull = ops.multiply(self._rates[i], pull)
        self.assign(variable, ops.add(ops.subtract(variable, ops.multiply(lr, g)),
                                      ops.multiply(self.decay, pull)))

    def get_config(self):
        config = super().get_config()
        config.update({"decay": self.decay, "method": self.method, "epsilon": self.epsilon})
        return config


class _SquaredGradients(keras.optimizers.Optimizer):
    """Sums each gradient's square and leaves the weights alone (for `gradient_statistics`)."""

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.sums = [self.add_variable_from_reference(v, "g2") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        total = self.sums[self._get_variable_index(variable)]
        g = _dense(gradient, total)
        self.assign(total, ops.add(total, ops.square(g)))


class _Inference(keras.Model):
    """`model` called with `training=False` (no dropout), so `train_on_batch` adapts it."""

    def __init__(self, model):
        super().__init__(name=f"{model.name}_inference")
        self.lm = model

    def call(self, inputs, training=None):
        return self.lm(inputs, training=False)


def _check_backend(model):
    """ValueError for a stateful RNN on JAX, where `train_on_batch` cannot carry its state."""
    if keras.backend.backend() == "jax" and find_stateful_rnn_layers(model):
        raise ValueError(
            "dynamic evaluation of a stateful RNN needs the TensorFlow backend: on JAX "
            "(Keras 3.15) stateful RNN states are not model variables, so every "
            "train_on_batch would start its segment from zero states")


def _stepper(model, optimizer, scored=True):
    _check_backend(model)
    wrapper = _Inference(model)
    metrics = [keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce")]
    wrapper.compile(optimizer=optimizer, metrics=metrics if scored else None,
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return wrapper


def gradient_statistics(model, ids, max_batches=None, verbose=0):
    """Root mean square of the gradients of `model` over training batches, per weight.

    The stream is cut as the PTB reader cuts it at the model's static `(B, T)`; each batch's
    gradient of the mean token cross-entropy is taken at inference (no dropout), the state
    carrying over. The weights are not changed.

    Args:
        model: stateful `keras.Model` from ids `(B, T)` to logits `(B, T, V)` (a copy of the
            evaluated model at a training batch size).
        ids: 1-D int array, the training split.
        max_batches: int or None, stop after this many batches. Defaults to all.
        verbose: 0 or 1, a progress bar. Defaults to `0`.

    Returns:
        A list of float32 arrays aligned with `model.trainable_variables`.
    """
    if max_batches is not None:
        checks.positive_int("max_batches", max_batches)
    checks.one_of("verbose", verbose, (0, 1))
    batch, length = (int(d) for d in model.inputs[0].shape)
    arr = _stream.stream_ids(ids, batch * (length + 1))
    rows = arr[:len(arr) // batch * batch].reshape(batch, -1)
    n = (rows.shape[1] - 1) // length
    n = n if max_batches is None else min(n, max_batches)
    optimizer = _SquaredGradients(learning_rate=0.0, name="squared_gradients")
    wrapper = _stepper(model, optimizer, scored=False)
    bar = keras.utils.Progbar(n, unit_name="batch") if verbose else None
    reset_rnn_states(model)
    try:
        for k in range(n):
            s = k * length
            wrapper.train_on_batch(rows[:, s:s + length], rows[:, s + 1:s + length + 1])
            if bar is not None:
                bar.update(k + 1)
    finally:
        reset_rnn_states(model)
    return [np.sqrt(ops.convert_to_numpy(total) / n) for total in optimizer.sums]


def stream_perplexity(model, ids):
    """Perplexity of `model` on the stream, batch 1 from zero states, the weights fixed."""
    length = _stream.chunk_length(model)
    ids = _stream.stream_ids(ids, length)
    reset_rnn_states(model)
    total = count = 0
    try:
        for x, y in _stream.chunks(ids, length):
            total -= float(_stream.target_log_probs(_stream.forward(model, x)[0], y).sum())
            count += len(y)
    finally:
        reset_rnn_states(model)
    return math.exp(total / count)


def dynamic_eval_perplexity(model, ids, learning_rate, decay, method="sgd", statistics=None,
                            epsilon=2e-5, verbose=0):
    """Perplexity of `model` on one stream with dynamic evaluation, and without it.

    Args:
        model: stateful `keras.Model` from ids `(1, T)` to logits `(1, T, V)`; `T` is the
            segment length (the reference's default is 5).
        ids: 1-D int array, the split (e.g. `corpus.test`).
        learning_rate, decay, method, epsilon: see `DynamicEvaluation`.
        statistics: list of arrays from `gradient_statistics` (`method="rms"` only).
        verbose: 0 or 1, a progress bar over the segments. Defaults to `0`.

    Returns:
        `(perplexity, model_perplexity)` on the same `T · ((len(ids) - 1) // T)` tokens.
        The model's weights are those it came with when this returns.

    Example:
    ```python
    clone = zoo.models.copy_to_batch(model, config, vocab_size, batch_size=1, num_steps=5)
    dynamic_eval_perplexity(clone, corpus.test, learning_rate=0.1, decay=0.01)
    ```
    """
    checks.one_of("verbose", verbose, (0, 1))
    adapted = _adapted_perplexity(model, ids, learning_rate, decay, method, statistics,
                                  epsilon, verbose)
    return adapted, stream_perplexity(model, ids)


def _adapted_perplexity(model, ids, learning_rate, decay, method, statistics, epsilon,
                        verbose):
    optimizer = DynamicEvaluation(learning_rate, decay, method, epsilon)
    if optimizer.method == "rms":
        if statistics is None:
            raise ValueError("Argument `statistics` must be given for method='rms' (see "
                             "gradient_statistics). Received: statistics=None")
        optimizer.set_gradient_statistics(statistics)
    length = _stream.chunk_length(model)
    ids = _stream.stream_ids(ids, length)
    weights = model.get_weights()
    wrapper = _stepper(model, optimizer)
    n = (len(ids) - 1) // length
    bar = keras.utils.Progbar(n, unit_name="segment") if verbose else None
    total = 0.0
    reset_rnn_states(model)
    try:
        for k, (x, y) in enumerate(_stream.chunks(ids, length)):
            logs = wrapper.train_on_batch(x, y[None, :], return_dict=True)
            total += float(logs["ce"]) * length
            if bar is not None:
                bar.update(k + 1)
    finally:
        model.set_weights(weights)
        reset_rnn_states(model)
    return math.exp(total / (n * length))


def tune_dynamic_eval(model, ids, learning_rates=LEARNING_RATES, decays=DECAYS, method="sgd",
                      statistics=None, epsilon=2e-5, verbose=0):
    """Grid search of (learning_rate, decay) minimising the perplexity on `ids` (VALID).

    Args:
        model, method, statistics, epsilon, verbose: as `dynamic_eval_perplexity`.
        ids: 1-D int array, the validation split. Never pass the test split.
        learning_rates, decays: sequences of candidates. Default to `LEARNING_RATES`,
            `DECAYS`.

    Returns:
        dict: `learning_rate`, `decay` (the best), `perplexity` and `model_perplexity` on
        `ids`, and `grid`, a list of `(learning_rate, decay, perplexity)`.
    """
    grid = [check_dynamic_args(lr, d, method, epsilon)[:2]
            for lr in learning_rates for d in decays]
    if not grid:
        checks.invalid("learning_rates", "a non-empty sequence (and decays too)", [])
    checks.one_of("verbose", verbose, (0, 1))
    results = [(lr, d, _adapted_perplexity(model, ids, lr, d, method, statistics, epsilon,
                                           verbose)) for lr, d in grid]
    plain = stream_perplexity(model, ids)
    best = min(results, key=lambda r: r[2])
    return {"learning_rate": best[0], "decay": best[1], "perplexity": best[2],
            "model_perplexity": plain, "grid": results}

"""Perplexity, computed over a whole epoch exactly as the PTB tutorial does."""

import keras
from keras import ops

from zoo import checks


@keras.saving.register_keras_serializable(package="zoo")
class Perplexity(keras.metrics.Metric):
    """Perplexity `exp(Σ w·CE / Σ w)` over every token seen since the last reset.

    The metric accumulates the (weighted) *sum* of token cross-entropies and the
    (weighted) token *count* across all `update_state` calls, i.e. across the whole
    epoch or evaluation, and reports `exp(sum / count)`. This is the TensorFlow PTB
    tutorial's and the notebooks' perplexity, not a mean of per-batch perplexities
    (which would be biased upwards by Jensen's inequality).

    `y_true` holds integer ids of any shape `S` (usually `[batch, time]`), `y_pred`
    logits (or probabilities) of shape `S + [vocab]`. `sample_weight`, when given,
    broadcasts to `S` (e.g. `[batch, time]` to mask padding, or `[batch]`); a zero
    weight removes a token from both sums. With no tokens counted the result is 1.

    Args:
        from_logits: bool, whether `y_pred` holds logits (else probabilities).
            Defaults to `True`.
        name: str, the metric name; Keras logs it as `perplexity` and, for
            validation, `val_perplexity`. Defaults to `"perplexity"`.
        dtype: str or None, the dtype of the accumulators. Defaults to `None`
            (float32). `"float64"` reduces round-off over very long epochs on
            backends that support it.

    Example:
    ```python
    model.compile(optimizer="sgd", loss=ScaledSparseCategoricalCrossentropy(),
                  metrics=[Perplexity()])
    history = model.fit(train_ds, validation_data=valid_ds, epochs=2)
    history.history["val_perplexity"]
    ```
    """

    def __init__(self, from_logits=True, name="perplexity", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.from_logits = checks.boolean("from_logits", from_logits)
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "int32")
        # A trailing length-1 axis on the targets (e.g. [B, T, 1]) is dropped.
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        if len(y_true.shape) != len(y_pred.shape) - 1:
            raise ValueError(
                "Argument `y_pred` must have one more axis (the vocabulary) than `y_true`. "
                f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            )
        ce = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        if sample_weight is None:
            weights = ops.ones_like(ce)
        else:
            weights = ops.cast(sample_weight, ce.dtype)
            # [B] weights for [B, T] tokens: append axes, then broadcast.
            while len(weights.shape) < len(ce.shape):
                weights = ops.expand_dims(weights, -1)
            weights = ops.broadcast_to(weights, ops.shape(ce))
        self.total.assign_add(ops.cast(ops.sum(ce * weights), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total.assign(ops.zeros((), dtype=self.dtype))
        self.count.assign(ops.zeros((), dtype=self.dtype))

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name, "dtype": self.dtype}

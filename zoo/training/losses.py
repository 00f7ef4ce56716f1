"""Losses for language models."""

import keras
from keras import ops

from zoo import checks


@keras.saving.register_keras_serializable(package="zoo")
class ScaledSparseCategoricalCrossentropy(keras.losses.SparseCategoricalCrossentropy):
    """Sparse categorical cross-entropy multiplied by a constant `scale`.

    With the default reduction the loss is `scale × mean token cross-entropy` over
    all `[batch, time]` positions. The TensorFlow PTB tutorial's cost is the per-token
    cross-entropy *summed over the `num_steps` time steps* and averaged over the batch,
    i.e. `num_steps ×` Keras's mean: its learning rate (1.0) and clip norm (5 or 10) only
    reproduce its results with `scale=num_steps`. Gradients are exactly `scale ×` those
    of the unscaled loss; perplexity (from `zoo.training.Perplexity`) is unaffected, but
    the `loss` Keras logs is scaled too.

    Args:
        scale: float, the positive constant the loss is multiplied by. Defaults to `1.0`.
        from_logits: bool, whether `y_pred` holds logits (else probabilities).
            Defaults to `True`.
        ignore_class: int or None, a target id whose positions are masked out (as in
            `keras.losses.SparseCategoricalCrossentropy`). Defaults to `None`.
        reduction: str, the Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        axis: int, the class axis of `y_pred`. Defaults to `-1`.
        name: str, the loss name. Defaults to `"scaled_sparse_categorical_crossentropy"`.
        dtype: str or None, the loss computation dtype. Defaults to `None`.

    Example:
    ```python
    num_steps = 20
    model.compile(
        optimizer=keras.optimizers.SGD(1.0, global_clipnorm=5.0),
        loss=ScaledSparseCategoricalCrossentropy(scale=num_steps),
        metrics=[Perplexity()],
    )
    ```
    """

    def __init__(
        self,
        scale=1.0,
        from_logits=True,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="scaled_sparse_categorical_crossentropy",
        dtype=None,
    ):
        scale = checks.positive_number("scale", scale)
        super().__init__(
            from_logits=from_logits,
            ignore_class=ignore_class,
            reduction=reduction,
            axis=axis,
            name=name,
            dtype=dtype,
        )
        self.scale = scale
        self.axis = axis

    def call(self, y_true, y_pred):
        losses = super().call(y_true, y_pred)
        return losses * ops.cast(self.scale, losses.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "axis": self.axis})
        return config

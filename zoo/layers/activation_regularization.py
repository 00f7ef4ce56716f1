"""ActivationRegularization: AWD-LSTM's activation (AR) and temporal activation (TAR) losses."""

import keras
from keras import ops

from zoo import checks
from zoo.layers._pair_layer import PairLayer


@keras.saving.register_keras_serializable(package="zoo")
class ActivationRegularization(PairLayer):
    """Adds AR and TAR penalties on the last recurrent layer's output to the loss.

    In training only, the layer calls `self.add_loss` with

        alpha * mean(dropped ** 2)
          + beta * mean((raw[:, 1:] - raw[:, :-1]) ** 2)

    where `raw` is the last LSTM layer's output and `dropped` the same output
    after its (locked) dropout, both `(batch, time, units)`. The first term is
    activation regularization (AR: keeps activations small), the second
    temporal activation regularization (TAR: keeps consecutive hidden states
    close); means run over every element, as in the reference
    (`alpha * dropped_rnn_hs[-1].pow(2).mean()` and
    `beta * (rnn_hs[-1][1:] - rnn_hs[-1][:-1]).pow(2).mean()`, whose
    tensors are time-major). With a time length of 1 the TAR term is 0.

    Keras adds `add_loss` terms to the compiled loss in `fit` and
    `train_on_batch` (TensorFlow and JAX alike), and `model.losses` holds
    them after a training call. At inference (`evaluate`, `predict`,
    `training` unset) nothing is added, so the evaluation loss is the plain
    cross-entropy. The layer returns `dropped` unchanged, so it sits between
    the dropout and the output layer.

    The scales of `alpha` and `beta` (AWD-LSTM on PTB: 2 and 1) assume the
    loss is the mean token cross-entropy, Keras's default reduction. If the
    training loss is scaled (e.g. by the number of timesteps, as the
    TensorFlow PTB tutorial's summed loss), scale `alpha` and `beta` alike.

    Args:
        alpha: non-negative float, the AR weight. Defaults to `0.0`.
        beta: non-negative float, the TAR weight. Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: pair `(raw, dropped)` of tensors `(batch, time, units)`.
        training: bool, whether to add the losses. Defaults to `None` (only
            when Keras's training flag says so, as in `fit`).

    Returns:
        `dropped`, unchanged.

    Raises:
        ValueError: for an `alpha` or `beta` that is not a finite number
            >= 0, or inputs that are not a pair of equal rank-3 shapes.

    Example:
    ```python
    raw = keras.layers.LSTM(400, return_sequences=True)(x)
    dropped = keras.layers.SpatialDropout1D(0.4)(raw)
    dropped = zoo.layers.ActivationRegularization(alpha=2.0, beta=1.0)(
        (raw, dropped))
    ```

    References:
    - [Merity et al., 2017](https://arxiv.org/abs/1708.02182), section 4.6.
    - [Merity et al., 2017b](https://arxiv.org/abs/1708.01009).
    - salesforce/awd-lstm-lm, `main.py` (the `alpha` and `beta` terms).
    """

    def __init__(self, alpha=0.0, beta=0.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = checks.non_negative_number("alpha", alpha)
        self.beta = checks.non_negative_number("beta", beta)

    def _check_shapes(self, input_shape):
        shapes_ok = (
            isinstance(input_shape, (list, tuple))
            and len(input_shape) == 2
            and all(isinstance(shape, (list, tuple)) and len(shape) == 3
                    for shape in input_shape)
        )
        if not shapes_ok or tuple(input_shape[0])[-1] != tuple(input_shape[1])[-1]:
            raise ValueError(
                "Argument `inputs` of ActivationRegularization must be a pair (raw, "
                "dropped) of tensors (batch, time, units) with the same units. "
                f"Received: inputs.shape={input_shape}")

    def call(self, inputs, training=None):
        raw, dropped = inputs
        if training and (self.alpha or self.beta):
            loss = 0.0
            if self.alpha:
                loss = loss + self.alpha * ops.mean(ops.square(ops.cast(dropped, "float32")))
            if self.beta:
                raw = ops.cast(raw, "float32")
                steps = raw[:, 1:] - raw[:, :-1]
                # Sum / count, not mean: with a time length of 1 there are no
                # differences and the term is 0, not the NaN of an empty mean.
                count = ops.maximum(ops.cast(ops.size(steps), "float32"), 1.0)
                loss = loss + self.beta * ops.sum(ops.square(steps)) / count
            self.add_loss(loss)
        return dropped

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "beta": self.beta})
        return config

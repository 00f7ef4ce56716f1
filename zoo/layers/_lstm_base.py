"""Shared constructor, config and gate math of the zoo's LSTM cells (private).

`GateLSTMCell` and `FusedLSTMCell` take the same arguments as
`keras.layers.LSTMCell` plus `forget_bias`; this module holds what they share
so the two public files only differ in how they lay out and multiply weights.

Variational dropout uses Keras's `DropoutRNNCell` mixin
(`keras.src.layers.rnn.dropout_rnn_cell`, private API; `setup.cfg` pins
`keras<3.16`): `keras.layers.RNN` asks the mixin for one mask per sequence
before its loop and clears it afterwards, so every timestep of a sequence sees
the same mask, and the masks come from the cell's `keras.random.SeedGenerator`.
"""

import keras
from keras import ops
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from zoo.layers._validation import check_positive_int
from zoo.layers._validation import check_rank
from zoo.layers._validation import check_rate


def lstm_gates(z, c_tm1, activation, recurrent_activation, forget_bias=0.0):
    """LSTM gate math on fused pre-activations `z` (gate order i, f, c, o).

    Args:
        z: tensor `(batch, 4 * units)`, `x @ kernel + h @ recurrent_kernel + b`.
        c_tm1: tensor `(batch, units)`, the previous carry.
        activation: callable for the cell update and the output squashing.
        recurrent_activation: callable for the input, forget, output gates.
        forget_bias: float added to the forget gate's pre-activation.

    Returns:
        `(h, c)`, the new output and carry.
    """
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    if forget_bias:
        z_f = z_f + forget_bias
    i = recurrent_activation(z_i)
    f = recurrent_activation(z_f)
    c = f * c_tm1 + i * activation(z_c)
    o = recurrent_activation(z_o)
    h = o * activation(c)
    return h, c


class LSTMCellBase(keras.layers.Layer, DropoutRNNCell):
    """Arguments, validation, state and config common to the zoo LSTM cells."""

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        forget_bias=0.0,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        try:
            self.forget_bias = float(forget_bias)
        except (TypeError, ValueError):
            raise ValueError(
                "Argument `forget_bias` must be a float. "
                f"Received: forget_bias={forget_bias!r}"
            ) from None
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate(
            "recurrent_dropout", recurrent_dropout
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        # keras.layers.RNN reads these at construction time.
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def _check_input_shape(self, input_shape):
        check_rank(
            type(self).__name__, input_shape, (2,), "one timestep: batch, features"
        )
        if input_shape[-1] is None:
            raise ValueError(
                f"Argument `inputs` of {type(self).__name__} must have a "
                f"known last dimension. Received: inputs.shape={input_shape}"
            )

    def _gate_bias_initializer(self, gate):
        """Initializer of one gate's bias: ones for `f` if unit_forget_bias."""
        if gate == "f" and self.unit_forget_bias:
            return keras.initializers.Ones()
        return self.bias_initializer

    def _masked(self, inputs, h_tm1, training):
        """Applies the per-sequence variational masks in training."""
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        return inputs, h_tm1

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, d), dtype=self.compute_dtype)
            for d in self.state_size
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "unit_forget_bias": self.unit_forget_bias,
                "forget_bias": self.forget_bias,
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "recurrent_regularizer": keras.regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(
                    self.bias_regularizer
                ),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config

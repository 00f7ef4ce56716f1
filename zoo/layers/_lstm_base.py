"""Shared constructor, config and gate math of the zoo's LSTM cells (private).

`GateLSTMCell` and `FusedLSTMCell` take the same arguments as
`keras.layers.LSTMCell`, in its positional order, plus `forget_bias` after
them (and accept and ignore `implementation`); this module holds what they share
so the two public files only differ in how they lay out and multiply weights.

Variational dropout uses Keras's `DropoutRNNCell` mixin (private API, reached
through `zoo/_keras_private.py`): `keras.layers.RNN` asks the mixin for one mask per sequence
before its loop and clears it afterwards, so every timestep of a sequence sees
the same mask, and the masks come from the cell's `keras.random.SeedGenerator`.

Weight drop (`weight_dropout`, AWD-LSTM's DropConnect on the recurrent
kernel) rides on the same hooks: when `keras.layers.RNN` asks for the
recurrent dropout mask before its loop, the cell also draws one
`(units, 4 * units)` Bernoulli mask, scaled by `1 / (1 - weight_dropout)`,
in the fused gate layout; it is cleared with the other masks after the loop.
So one mask serves every timestep and every row of a layer call, and a
training call multiplies the raw recurrent kernel by it (never assigning it).
"""

import keras
from keras import ops

from zoo import checks
from zoo._keras_private import DropoutRNNCell

# How each weight setting (`kernel_initializer`, `recurrent_regularizer`, ...)
# is serialized.
_SERIALIZERS = {
    f"{weight}_{kind}": module
    for kind, module in (
        ("initializer", keras.initializers),
        ("regularizer", keras.regularizers),
        ("constraint", keras.constraints),
    )
    for weight in ("kernel", "recurrent", "bias")
}

# The cells' constructor arguments, in keras.layers.LSTMCell's order (`forget_bias` and
# `weight_dropout` after them).
CELL_ARGS = (
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "unit_forget_bias", "forget_bias",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
    "weight_dropout",
)


def cell_property(name):
    """A read-only property of an RNN layer that reads its cell's `name`."""

    def getter(self):
        return getattr(self.cell, name)

    return property(getter, doc=f"The cell's `{name}` (read-only).")


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
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        forget_bias=0.0,
        weight_dropout=0.0,
        **kwargs,
    ):
        # Accepted like keras.layers.LSTMCell; both implementations compute
        # the same function in Keras 3, and the zoo cells have one.
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = checks.positive_int("units", units)
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
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(
            recurrent_constraint
        )
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = checks.rate("dropout", dropout)
        self.recurrent_dropout = checks.rate(
            "recurrent_dropout", recurrent_dropout
        )
        self.weight_dropout = checks.rate(
            "weight_dropout", weight_dropout, allow_one=False
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        # keras.layers.RNN reads these at construction time.
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def _check_input_shape(self, input_shape):
        checks.rank(
            type(self).__name__, input_shape, (2,), "one timestep: batch, features"
        )
        if input_shape[-1] is None:
            raise ValueError(
                f"Argument `inputs` of {type(self).__name__} must have a "
                f"known last dimension. Received: inputs.shape={input_shape}"
            )

    def _fused_bias_initializer(self, shape, dtype=None):
        """The `(4 * units,)` bias exactly as `keras.layers.LSTMCell` draws it.

        With `unit_forget_bias`: `bias_initializer((units,))`, ones,
        `bias_initializer((2 * units,))`; otherwise one
        `bias_initializer((4 * units,))` draw.
        """
        units = self.units
        if not self.unit_forget_bias:
            return self.bias_initializer((4 * units,), dtype=dtype)
        return ops.concatenate(
            [
                self.bias_initializer((units,), dtype=dtype),
                keras.initializers.Ones()((units,), dtype=dtype),
                self.bias_initializer((2 * units,), dtype=dtype),
            ]
        )

    def dropout_active(self, training):
        """Whether input dropout acts in this call; a rate of 1.0 drops nothing (Keras).

        Public so `FusedLSTM` can apply the cell's masks to a whole sequence.

        Args:
            training: bool, whether the layer call trains.

        Returns:
            bool.
        """
        return bool(training) and 0.0 < self.dropout < 1.0

    def recurrent_dropout_active(self, training):
        """Whether recurrent dropout acts in this call; 1.0 drops nothing (Keras).

        Args:
            training: bool, whether the layer call trains.

        Returns:
            bool.
        """
        return bool(training) and 0.0 < self.recurrent_dropout < 1.0

    def _weight_dropout_active(self, training):
        """Weight drop on the recurrent kernel in this call."""
        return bool(training) and self.weight_dropout > 0.0

    def get_recurrent_dropout_mask(self, step_input):
        """The recurrent dropout mask; also draws the weight-drop mask.

        `keras.layers.RNN` calls this once per layer call, before its loop,
        so the weight-drop mask is drawn there, after the dropout masks.
        """
        mask = super().get_recurrent_dropout_mask(step_input)
        self.get_weight_dropout_mask()
        return mask

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._weight_dropout_mask = None

    def get_weight_dropout_mask(self):
        """The layer call's weight-drop mask `(units, 4 * units)`, drawn once.

        Zeros where recurrent weights are dropped, `1 / (1 - weight_dropout)`
        elsewhere (variable dtype); `None` without weight drop. Cached until
        `reset_recurrent_dropout_mask`, as Keras caches dropout masks.
        """
        if getattr(self, "_weight_dropout_mask", None) is None and self.weight_dropout > 0:
            ones = ops.ones((self.units, 4 * self.units), dtype=self.variable_dtype)
            self._weight_dropout_mask = keras.random.dropout(
                ones, rate=self.weight_dropout, seed=self.seed_generator
            )
        return getattr(self, "_weight_dropout_mask", None)

    def dropped_recurrent_kernel(self, kernel, training, gate=None):
        """`kernel` times the weight-drop mask in training, else `kernel`.

        Args:
            kernel: the recurrent kernel `(units, 4 * units)`, or with `gate`
                the recurrent kernel `(units, units)` of gate `gate` (0..3),
                which takes that gate's slice of the fused mask.
            training: bool, whether the layer call trains.
            gate: optional int, the gate of a per-gate kernel.

        Returns:
            A tensor (the variable is never assigned).
        """
        if not self._weight_dropout_active(training):
            return kernel
        mask = self.get_weight_dropout_mask()
        if gate is not None:
            mask = mask[:, gate * self.units : (gate + 1) * self.units]
        kernel = ops.convert_to_tensor(kernel)
        return ops.cast(ops.cast(kernel, mask.dtype) * mask, kernel.dtype)

    def _masked(self, inputs, h_tm1, training):
        """Applies the per-sequence variational masks in training."""
        if self.dropout_active(training):
            inputs = inputs * self.get_dropout_mask(inputs)
        if self.recurrent_dropout_active(training):
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
                "unit_forget_bias": self.unit_forget_bias,
                "forget_bias": self.forget_bias,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "weight_dropout": self.weight_dropout,
                "seed": self.seed,
            }
        )
        for name, module in _SERIALIZERS.items():
            config[name] = module.serialize(getattr(self, name))
        return config

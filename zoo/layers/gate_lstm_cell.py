"""GateLSTMCell: the gate-by-gate LSTM step of the text8 notebook."""

import keras
from keras import ops

from zoo.layers._lstm_base import LSTMCellBase

GATES = ("i", "f", "c", "o")


@keras.saving.register_keras_serializable(package="zoo")
class GateLSTMCell(LSTMCellBase):
    """LSTM cell with four separate gates, four matmul pairs per step.

    The text8 notebook's LSTM written gate by gate: the input (`i`), forget
    (`f`), cell update (`c`) and output (`o`) gates each own an input kernel
    `kernel_g (input_dim, units)`, a recurrent kernel
    `recurrent_kernel_g (units, units)` and a bias `bias_g (units,)`.
    `get_weights()` lists the four kernels, then the four recurrent kernels,
    then the four biases, in gate order i, f, c, o.

    It computes the same function as `FusedLSTMCell` and `keras.layers.LSTMCell`
    (convert weights with `zoo.layers.gate_to_fused_weights` and
    `zoo.layers.fused_to_gate_weights`); it exists for readability and for
    models that treat the gates separately. It is slower: four small matmul
    pairs per step instead of one.

    Per step: `i = σ(x @ kernel_i + h @ recurrent_kernel_i + bias_i)`,
    `f = σ(... + bias_f + forget_bias)`, `u = tanh(... _c)`, `o = σ(... _o)`,
    `c = f * c + i * u`, `h = o * tanh(c)`.

    The weights are drawn as `keras.layers.LSTMCell` draws them, one
    `(input_dim, 4 * units)` kernel, one `(units, 4 * units)` recurrent kernel
    and one `(4 * units,)` bias, then split per gate: with the same seeded
    initializers a `GateLSTMCell` starts with the weights of a
    `FusedLSTMCell` or `keras.layers.LSTMCell` (after
    `zoo.layers.fused_to_gate_weights`). Weights move between these layer
    kinds with `get_weights` / `set_weights` and the conversion functions;
    `load_weights` of a `.weights.h5` file keys by layer class and does not.

    Args:
        The arguments of `FusedLSTMCell` (those of `keras.layers.LSTMCell`,
        plus `forget_bias`), with its defaults and meaning, except that each
        initializer, regularizer and constraint applies to the four gates'
        weights of its kind: `kernel_initializer` to every `kernel_g`,
        `recurrent_regularizer` to every `recurrent_kernel_g`, `bias_constraint`
        to every `bias_g`, and so on. `weight_dropout` draws one
        `(units, 4 * units)` mask per layer call, as `FusedLSTMCell` does, and
        gives each `recurrent_kernel_g` its gate's slice: with the same seed
        both cells drop the same weights. `implementation` is accepted and
        ignored.

    Call arguments:
        The same as `FusedLSTMCell`'s: `inputs` `(batch, features)` (one
        timestep), `states` `[h, c]`, `training`.

    Example:
    ```python
    cell = zoo.layers.GateLSTMCell(
        8,
        unit_forget_bias=False,
        kernel_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
    )
    rnn = keras.layers.RNN(cell, return_sequences=True, stateful=False)
    y = rnn(np.random.rand(2, 5, 3).astype("float32"))  # (2, 5, 8)
    fused = zoo.layers.gate_to_fused_weights(cell.get_weights())
    ```

    References:
        - [Hochreiter & Schmidhuber, 1997](https://doi.org/10.1162/neco.1997.9.8.1735)
    """

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        input_dim = input_shape[-1]
        units = self.units
        self.kernels = self._gate_weights(
            "kernel", "kernel", (input_dim, units), self.kernel_initializer
        )
        self.recurrent_kernels = self._gate_weights(
            "recurrent_kernel", "recurrent", (units, units), self.recurrent_initializer
        )
        self.biases = None
        if self.use_bias:
            self.biases = self._gate_weights(
                "bias", "bias", (units,), self._fused_bias_initializer
            )
        self.built = True

    def _gate_weights(self, name, setting, shape, initializer):
        """The four weights `{name}_g`, drawn as one fused tensor, split per gate.

        The group is drawn once in keras.layers.LSTMCell's fused shape
        `(..., 4 * units)`: a Keras initializer instance returns the same
        values for the same shape, so drawing per gate would start the four
        gates identical. `setting` names the regularizer and constraint
        (`kernel_regularizer`, `recurrent_constraint`, ...).
        """
        fused = _GateSlices(initializer, shape[:-1] + (4 * shape[-1],))
        return [
            self.add_weight(
                shape=shape,
                name=f"{name}_{g}",
                initializer=fused.initializer(k),
                regularizer=getattr(self, f"{setting}_regularizer"),
                constraint=getattr(self, f"{setting}_constraint"),
            )
            for k, g in enumerate(GATES)
        ]

    def _gate(self, g, inputs, h_tm1, training):
        z = ops.matmul(inputs, self.kernels[g])
        recurrent_kernel = self.dropped_recurrent_kernel(
            self.recurrent_kernels[g], training, gate=g
        )
        z = ops.add(z, ops.matmul(h_tm1, recurrent_kernel))
        if self.use_bias:
            z = ops.add(z, self.biases[g])
        return z

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        inputs, h_rec = self._masked(inputs, h_tm1, training)
        z_f = self._gate(1, inputs, h_rec, training)
        if self.forget_bias:
            z_f = z_f + self.forget_bias
        i = self.recurrent_activation(self._gate(0, inputs, h_rec, training))
        f = self.recurrent_activation(z_f)
        u = self.activation(self._gate(2, inputs, h_rec, training))
        o = self.recurrent_activation(self._gate(3, inputs, h_rec, training))
        c = f * c_tm1 + i * u
        h = o * self.activation(c)
        return h, [h, c]


class _GateSlices:
    """One draw of a fused `(..., 4 * units)` tensor, handed out per gate."""

    def __init__(self, initializer, shape):
        self._initializer = initializer
        self._shape = shape
        self._value = None

    def initializer(self, k):
        """Initializer of gate `k`'s slice (the full tensor is drawn once)."""

        def init(shape, dtype=None):
            if self._value is None:
                self._value = self._initializer(self._shape, dtype=dtype)
            units = self._shape[-1] // 4
            return self._value[..., k * units : (k + 1) * units]

        return init

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
        units: int, dimensionality of the output and of both states.
        activation: activation for the cell update and the output squashing.
            Defaults to `"tanh"`.
        recurrent_activation: activation of the input, forget and output
            gates. Defaults to `"sigmoid"`.
        use_bias: bool, whether the gates have biases. Defaults to `True`.
        kernel_initializer: initializer of each `kernel_g`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: initializer of each `recurrent_kernel_g`.
            Defaults to `"orthogonal"`.
        bias_initializer: initializer of each `bias_g`. Defaults to `"zeros"`.
        unit_forget_bias: bool, initialize `bias_f` to ones (Keras's recipe).
            Defaults to `True`.
        kernel_regularizer: regularizer of each `kernel_g`. Defaults to `None`.
        recurrent_regularizer: regularizer of each `recurrent_kernel_g`.
            Defaults to `None`.
        bias_regularizer: regularizer of each `bias_g`. Defaults to `None`.
        kernel_constraint: constraint of each `kernel_g`. Defaults to `None`.
        recurrent_constraint: constraint of each `recurrent_kernel_g`.
            Defaults to `None`.
        bias_constraint: constraint of each `bias_g`. Defaults to `None`.
        dropout: float in [0, 1], fraction of the inputs dropped in training,
            one mask per sequence shared by the gates; 1.0 applies no dropout
            (as in Keras). Defaults to `0.0`.
        recurrent_dropout: float in [0, 1], same for the recurrent state: one
            mask shared by the four gates (`keras.layers.LSTMCell` draws
            four). Defaults to `0.0`.
        seed: int, seed of the dropout masks. Defaults to `None`.
        forget_bias: float, constant added to the forget gate's
            pre-activation at every step (the TF PTB tutorial's recipe).
            Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`;
            `implementation` is accepted and ignored.

    Call arguments:
        inputs: tensor `(batch, features)`, one timestep.
        states: list `[h, c]`, each `(batch, units)`.
        training: bool, whether dropout is active.

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
        # Each group is drawn once in keras.layers.LSTMCell's fused shape and
        # split per gate: a Keras initializer instance returns the same
        # values for the same shape, so drawing per gate would start the four
        # gates identical.
        kernel = _GateSlices(self.kernel_initializer, (input_dim, 4 * units))
        recurrent = _GateSlices(self.recurrent_initializer, (units, 4 * units))
        self.kernels = [
            self.add_weight(
                shape=(input_dim, units),
                name=f"kernel_{g}",
                initializer=kernel.initializer(k),
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
            for k, g in enumerate(GATES)
        ]
        self.recurrent_kernels = [
            self.add_weight(
                shape=(units, units),
                name=f"recurrent_kernel_{g}",
                initializer=recurrent.initializer(k),
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )
            for k, g in enumerate(GATES)
        ]
        if self.use_bias:
            bias = _GateSlices(self._fused_bias_initializer, (4 * units,))
            self.biases = [
                self.add_weight(
                    shape=(units,),
                    name=f"bias_{g}",
                    initializer=bias.initializer(k),
                    regularizer=self.bias_regularizer,
                    constraint=self.bias_constraint,
                )
                for k, g in enumerate(GATES)
            ]
        else:
            self.biases = None
        self.built = True

    def _gate(self, g, inputs, h_tm1):
        z = ops.matmul(inputs, self.kernels[g])
        z = ops.add(z, ops.matmul(h_tm1, self.recurrent_kernels[g]))
        if self.use_bias:
            z = ops.add(z, self.biases[g])
        return z

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        inputs, h_rec = self._masked(inputs, h_tm1, training)
        z_f = self._gate(1, inputs, h_rec)
        if self.forget_bias:
            z_f = z_f + self.forget_bias
        i = self.recurrent_activation(self._gate(0, inputs, h_rec))
        f = self.recurrent_activation(z_f)
        u = self.activation(self._gate(2, inputs, h_rec))
        o = self.recurrent_activation(self._gate(3, inputs, h_rec))
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

"""FusedLSTMCell: the LSTM step with one matmul pair over all four gates."""

import keras
from keras import ops

from zoo.layers._lstm_base import LSTMCellBase
from zoo.layers._lstm_base import lstm_gates


@keras.saving.register_keras_serializable(package="zoo")
class FusedLSTMCell(LSTMCellBase):
    """LSTM cell computing all four gates with one matmul pair per step.

    The notebook's concatenated `sx`, `sm`, `sb`: one input kernel
    `(input_dim, 4 * units)`, one recurrent kernel `(units, 4 * units)` and
    one bias `(4 * units,)`, gate order input, forget, cell update, output.
    This is exactly the weight layout of `keras.layers.LSTMCell`, so
    `cell.set_weights(keras_cell.get_weights())` works both ways and the two
    cells compute the same numbers (with `forget_bias=0`). The weights are
    drawn as Keras draws them (one call per tensor, the bias as
    `keras.layers.LSTMCell` builds it), so with the same seeded initializers
    the two cells also start with identical weights.

    Weights move between layer kinds (`GateLSTMCell`, `FusedLSTMCell`,
    `keras.layers.LSTMCell`) with `get_weights` / `set_weights`;
    `load_weights` of a `.weights.h5` file keys by layer class and does not.

    Per step, with `z = x @ kernel + h @ recurrent_kernel + bias` split into
    `z_i, z_f, z_c, z_o`:
    `c = σ(z_f + forget_bias) * c + σ(z_i) * tanh(z_c)`,
    `h = σ(z_o) * tanh(c)`.

    Use it inside `keras.layers.RNN`; for training speed prefer
    `zoo.layers.FusedLSTM`, the same function with the input projection of all
    timesteps hoisted out of the recurrence.

    Args:
        units: int, dimensionality of the output and of both states.
        activation: activation for the cell update and the output squashing.
            Defaults to `"tanh"`.
        recurrent_activation: activation of the input, forget and output
            gates. Defaults to `"sigmoid"`.
        use_bias: bool, whether the cell has a bias. Defaults to `True`.
        kernel_initializer: initializer of `kernel`. Defaults to
            `"glorot_uniform"`; the PTB recipes use
            `keras.initializers.RandomUniform(-0.1, 0.1)`.
        recurrent_initializer: initializer of `recurrent_kernel`. Defaults to
            `"orthogonal"`.
        bias_initializer: initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: bool, Keras's recipe: initialize the forget gate's
            bias to one (overrides `bias_initializer` for that slice).
            Defaults to `True`.
        kernel_regularizer: regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: regularizer of `recurrent_kernel`. Defaults to
            `None`.
        bias_regularizer: regularizer of `bias`. Defaults to `None`.
        kernel_constraint: constraint of `kernel`. Defaults to `None`.
        recurrent_constraint: constraint of `recurrent_kernel`. Defaults to
            `None`.
        bias_constraint: constraint of `bias`. Defaults to `None`.
        dropout: float in [0, 1], fraction of the inputs dropped in training;
            one mask per sequence, shared by the four gates (variational).
            As in Keras, 1.0 applies no dropout. Defaults to `0.0`.
        recurrent_dropout: float in [0, 1], same for the recurrent state `h`
            fed to the recurrent matmul: one mask shared by the four gates
            (`keras.layers.LSTMCell` draws four, one per gate). Defaults to
            `0.0`.
        seed: int, seed of the dropout masks. Defaults to `None`.
        forget_bias: float, the TensorFlow PTB tutorial's recipe: a constant
            added to the forget gate's pre-activation at every step (not a
            weight). Defaults to `0.0`.
        weight_dropout: float in [0, 1), AWD-LSTM's weight drop
            (DropConnect): in training, the fraction of `recurrent_kernel`'s
            entries set to zero, the rest scaled by `1 / (1 - weight_dropout)`;
            one mask per layer call, shared by every timestep and sample. The
            variable is never overwritten: inference uses the raw kernel.
            Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`
            (`name`, `dtype`, ...). `implementation` is accepted and ignored
            (Keras 3's two implementations compute the same function).

    Call arguments:
        inputs: tensor `(batch, features)`, one timestep.
        states: list `[h, c]`, each `(batch, units)`.
        training: bool, whether dropout and weight drop are active.

    Example:
    ```python
    cell = zoo.layers.FusedLSTMCell(8, unit_forget_bias=False)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    y = rnn(np.random.rand(2, 5, 3).astype("float32"))  # (2, 5, 8)
    # Weights copy from and to Keras's own cell:
    keras_rnn = keras.layers.RNN(keras.layers.LSTMCell(8), return_sequences=True)
    keras_rnn.build((2, 5, 3))
    keras_rnn.set_weights(rnn.get_weights())
    ```

    References:
        - [Hochreiter & Schmidhuber, 1997](https://doi.org/10.1162/neco.1997.9.8.1735)
        - [Zaremba et al., 2014](https://arxiv.org/abs/1409.2329)
        - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1512.05287)
        - [Merity et al., 2017](https://arxiv.org/abs/1708.02182) (weight drop)
    """

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 4 * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(4 * self.units,),
                name="bias",
                initializer=self._fused_bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        inputs, h_rec = self._masked(inputs, h_tm1, training)
        z = ops.matmul(inputs, self.kernel)
        recurrent_kernel = self.dropped_recurrent_kernel(self.recurrent_kernel, training)
        z = ops.add(z, ops.matmul(h_rec, recurrent_kernel))
        if self.use_bias:
            z = ops.add(z, self.bias)
        h, c = lstm_gates(
            z,
            c_tm1,
            self.activation,
            self.recurrent_activation,
            self.forget_bias,
        )
        return h, [h, c]

    def effective_bias(self):
        """`bias` (zeros without `use_bias`) plus the forget-gate offset.

        The bias `FusedLSTM`'s whole-sequence paths add to the projected
        input, `forget_bias` folded in (a tensor; the variable is unchanged).

        Returns:
            A tensor `(4 * units,)`.
        """
        units, dtype = self.units, self.compute_dtype
        bias = self.bias if self.use_bias else ops.zeros((4 * units,), dtype=dtype)
        if self.forget_bias:
            offset = ops.concatenate(
                [
                    ops.zeros((units,), dtype=dtype),
                    ops.full((units,), self.forget_bias, dtype=dtype),
                    ops.zeros((2 * units,), dtype=dtype),
                ]
            )
            bias = bias + offset
        return bias

"""FusedLSTM: the zoo's fast LSTM layer (input projection hoisted)."""

import keras
from keras import ops
from keras.src import backend as keras_backend
from keras.src import tree

from zoo.layers._lstm_base import lstm_gates
from zoo.layers._lstm_sequence import lstm_sequence
from zoo.layers._validation import check_rank
from zoo.layers.fused_lstm_cell import FusedLSTMCell

_CELL_ARGS = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "dropout",
    "recurrent_dropout",
    "seed",
)


@keras.saving.register_keras_serializable(package="zoo")
class FusedLSTM(keras.layers.RNN):
    """LSTM layer that projects all timesteps' inputs before the recurrence.

    The same function as `keras.layers.RNN(FusedLSTMCell(...))`, with the same
    weights (`kernel`, `recurrent_kernel`, `bias`; Keras's LSTM layout), but
    the loop is split in two: first `x @ kernel + bias` for the whole
    `(batch, time, features)` input in one large matmul, then a recurrence
    that does only `h @ recurrent_kernel` and the gate math per step. The
    input matmul leaves the sequential critical path and runs at full matmul
    efficiency; this is the layer the zoo's models use by default.

    With the standard activations (tanh, sigmoid), no mask and the
    TensorFlow or JAX backend, the sequence also gets a hand-written backward
    pass (`zoo/layers/_lstm_sequence.py`): a backward step is one matmul and a
    few elementwise ops, and the weight gradients come from one large matmul
    over all timesteps. Sequences of static length up to 64 are unrolled
    (`unroll=True` unrolls any static length); longer or unknown lengths run
    in the backend's loop. Outputs and gradients equal the plain cell's.

    It is a `keras.layers.RNN` subclass, so `stateful`, `reset_state()`,
    `initial_state`, `return_state`, `go_backwards`, masking and
    `keras.layers.Bidirectional` work as for `keras.layers.LSTM`.
    Dropout masks are drawn once per sequence (variational): the input mask
    is applied to the whole input before the projection, the recurrent mask
    to `h` at every step.

    Mixed precision: under a `"mixed_bfloat16"` / `"mixed_float16"` dtype
    policy the matmuls run in the compute dtype while the gate math and the
    carry `c` stay in float32 inside the sequence (states are rounded to the
    compute dtype when handed back, as in every Keras RNN).

    Args:
        units: int, dimensionality of the output and of both states.
        activation: activation for the cell update and the output squashing.
            Defaults to `"tanh"`.
        recurrent_activation: activation of the input, forget and output
            gates. Defaults to `"sigmoid"`.
        use_bias: bool. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        recurrent_initializer: Defaults to `"orthogonal"`.
        bias_initializer: Defaults to `"zeros"`.
        unit_forget_bias: bool, forget-gate bias initialized to one (Keras).
            Defaults to `True`.
        forget_bias: float, constant added to the forget gate's
            pre-activation (TF PTB tutorial). Defaults to `0.0`.
        kernel_regularizer: Defaults to `None`.
        recurrent_regularizer: Defaults to `None`.
        bias_regularizer: Defaults to `None`.
        dropout: float in [0, 1), input dropout, one mask per sequence.
            Defaults to `0.0`.
        recurrent_dropout: float in [0, 1), recurrent dropout, one mask per
            sequence. Defaults to `0.0`.
        seed: int, seed of the dropout masks. Defaults to `None`.
        return_sequences: bool, return the whole output sequence.
            Defaults to `False`.
        return_state: bool, also return the last `h` and `c`.
            Defaults to `False`.
        go_backwards: bool, process the sequence backwards.
            Defaults to `False`.
        stateful: bool, carry the last state of each sample into the next
            batch (needs a static batch size). Defaults to `False`.
        unroll: bool, unroll the recurrence (short sequences only).
            Defaults to `False`.
        **kwargs: other keyword arguments of `keras.layers.RNN`
            (`name`, `dtype`, `zero_output_for_mask`, ...).

    Call arguments:
        sequences: tensor `(batch, time, features)`.
        initial_state: optional list `[h, c]`.
        mask: optional boolean tensor `(batch, time)`.
        training: bool, whether dropout is active.

    Example:
    ```python
    inputs = keras.Input(batch_shape=(20, 35), dtype="int32")
    x = keras.layers.Embedding(10000, 200)(inputs)
    x = zoo.layers.FusedLSTM(200, return_sequences=True, stateful=True,
                             unit_forget_bias=False)(x)
    logits = keras.layers.Dense(10000)(x)
    model = keras.Model(inputs, logits)
    ```
    """

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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        cell = FusedLSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            forget_bias=forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype", None),
            trainable=kwargs.get("trainable", True),
            name="fused_lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )

    def build(self, sequences_shape, initial_state_shape=None):
        check_rank(
            type(self).__name__,
            sequences_shape,
            (3,),
            "batch, time, features",
        )
        super().build(sequences_shape, initial_state_shape)

    def _accumulation_dtype(self):
        """float32 for the gates and carry under a mixed (16-bit) policy."""
        if self.cell.compute_dtype in ("bfloat16", "float16"):
            return "float32"
        return self.cell.compute_dtype

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if tree.is_nested(mask):
            mask = mask[0]
        cell = self.cell
        compute_dtype = cell.compute_dtype
        acc_dtype = self._accumulation_dtype()

        if training and cell.dropout > 0.0:
            # The mask RNN.call drew for this sequence, applied to all steps.
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dp_mask, axis=1)
        rec_mask = None
        if training and cell.recurrent_dropout > 0.0:
            rec_mask = cell.get_recurrent_dropout_mask(initial_state[0])
            rec_mask = ops.cast(rec_mask, acc_dtype)

        bias = self._effective_bias()
        initial_state = [ops.cast(s, acc_dtype) for s in initial_state]
        if mask is None and self._has_standard_math():
            # Fast path: whole sequence, hand-written backward pass.
            return self._fast_recurrence(sequences, bias, initial_state, rec_mask)

        # Generic path (masks, other activations).
        # 1. Input projection of every timestep in one matmul.
        projected = ops.matmul(sequences, cell.kernel)
        if bias is not None:
            projected = projected + bias
        projected = ops.cast(projected, acc_dtype)
        recurrent_kernel = cell.recurrent_kernel
        activation = cell.activation
        recurrent_activation = cell.recurrent_activation

        # 2. The recurrence: one matmul with the recurrent kernel per step.
        def step(z_x, states):
            h_tm1, c_tm1 = states[0], states[1]
            h_rec = h_tm1 if rec_mask is None else h_tm1 * rec_mask
            z_h = ops.matmul(ops.cast(h_rec, compute_dtype), recurrent_kernel)
            z = z_x + ops.cast(z_h, acc_dtype)
            h, c = lstm_gates(z, c_tm1, activation, recurrent_activation)
            return h, [h, c]

        return keras_backend.rnn(
            step,
            projected,
            initial_state,
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def _effective_bias(self):
        """`bias` plus the constant forget-gate offset, or None."""
        cell = self.cell
        bias = cell.bias if cell.use_bias else None
        if cell.forget_bias:
            units, dtype = cell.units, cell.compute_dtype
            offset = ops.concatenate(
                [
                    ops.zeros((units,), dtype=dtype),
                    ops.full((units,), cell.forget_bias, dtype=dtype),
                    ops.zeros((2 * units,), dtype=dtype),
                ]
            )
            bias = offset if bias is None else bias + offset
        return bias

    def _has_standard_math(self):
        """Whether `lstm_sequence` (tanh/sigmoid, custom gradient) applies."""
        return (
            keras.backend.backend() in ("tensorflow", "jax")
            and self.cell.activation is keras.activations.tanh
            and self.cell.recurrent_activation is keras.activations.sigmoid
        )

    def _fast_recurrence(self, sequences, bias, initial_state, rec_mask):
        cell = self.cell
        dtype = cell.compute_dtype
        x = ops.transpose(ops.cast(sequences, dtype), (1, 0, 2))  # time-major
        if self.go_backwards:
            x = ops.flip(x, axis=0)
        if bias is None:
            bias = ops.zeros((4 * cell.units,), dtype=dtype)
        hs, c_last = lstm_sequence(
            x,
            ops.cast(ops.convert_to_tensor(cell.kernel), dtype),
            ops.cast(bias, dtype),
            initial_state[0],
            initial_state[1],
            ops.cast(ops.convert_to_tensor(cell.recurrent_kernel), dtype),
            rec_mask,
            unroll=True if self.unroll else None,
        )
        h_last = hs[-1]
        return h_last, ops.transpose(hs, (1, 0, 2)), [h_last, c_last]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        config.update({k: cell_config[k] for k in _CELL_ARGS})
        del config["cell"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _cell_property(name):
    def getter(self):
        return getattr(self.cell, name)

    return property(getter, doc=f"The cell's `{name}` (read-only).")


# Read-only views of the cell's arguments, as on keras.layers.LSTM.
for _name in _CELL_ARGS:
    setattr(FusedLSTM, _name, _cell_property(_name))
del _name

"""FusedLSTM: the zoo's fast LSTM layer (input projection hoisted)."""

import keras
from keras import ops

from zoo import checks
from zoo.layers import _cudnn
from zoo.layers._cudnn import cudnn_blocker
from zoo.layers._lstm_base import CELL_ARGS
from zoo.layers._lstm_base import cell_property
from zoo.layers._lstm_sequence import lstm_sequence
from zoo.layers._lstm_sequence import masked_lstm_loop
from zoo.layers.fused_lstm_cell import FusedLSTMCell

_USE_CUDNN = ("auto", True, False)


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

    On a GPU (`use_cudnn="auto"`, as `keras.layers.LSTM`) a call goes to the
    backend's cuDNN LSTM, the entry point `keras.layers.LSTM` uses, whenever
    the math is the standard LSTM: tanh/sigmoid, no recurrent dropout,
    `unroll=False`, no mixed precision policy, and no mask, or (TensorFlow
    only) a right-padded one; `forget_bias` is folded into the bias handed
    over, and so is the weight-dropped recurrent kernel under `weight_dropout`.
    Everywhere else, CPUs included, the zoo's own paths run.
    `use_cudnn=True` raises a `ValueError` naming the reason when cuDNN cannot
    run a call; `cudnn_blocker` (`zoo/layers/_cudnn.py`) is the decision.

    It is a `keras.layers.RNN` subclass, so `stateful`, `reset_state()`,
    `initial_state`, `return_state`, `go_backwards`, masking and
    `keras.layers.Bidirectional` work as for `keras.layers.LSTM`. Dropout is
    the cell's (one mask per sequence; the input mask is applied to the whole
    input before the projection), and so is weight drop: in training the
    recurrent kernel times one mask per call goes to every path, and the raw
    kernel gets its gradient through the mask.

    Drop-in for `keras.layers.LSTM`: the same arguments in the same
    positional order (`forget_bias` comes after them), the same weights
    (`kernel`, `recurrent_kernel`, `bias`), drawn the same way, so with the
    same seeded initializers both layers start identical. Weights move
    between layer kinds with `get_weights` / `set_weights`; `load_weights`
    of a `.weights.h5` file keys by layer class, so it does not.
    `implementation` is accepted and ignored (Keras 3's two implementations
    compute the same function).

    Mixed precision: under a `"mixed_bfloat16"` / `"mixed_float16"` dtype
    policy the matmuls run in the compute dtype while the gate math and the
    carry `c` stay in float32 inside the sequence (states are rounded to the
    compute dtype when handed back, as in every Keras RNN).

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, forget_bias, weight_dropout: the cell's
            arguments, with the meaning and defaults `FusedLSTMCell` documents
            (those of `keras.layers.LSTM`, plus `forget_bias` and
            `weight_dropout`, both default `0.0`).
        activity_regularizer: regularizer of the layer's output.
            Defaults to `None`.
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
        use_cudnn: `"auto"`, `True` or `False`: use the backend's cuDNN
            kernel where it applies (`"auto"`), always (`True`, raising where
            it cannot) or never. Defaults to `"auto"`.
        **kwargs: other keyword arguments of `keras.layers.RNN`
            (`name`, `dtype`, `zero_output_for_mask`, ...).

    Call arguments:
        sequences: tensor `(batch, time, features)`.
        initial_state: optional list `[h, c]`.
        mask: optional boolean tensor `(batch, time)`.
        training: bool, whether dropout and weight drop are active.

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

    # Read-only views of the cell's arguments, as on keras.layers.LSTM.
    units = cell_property("units")
    activation = cell_property("activation")
    recurrent_activation = cell_property("recurrent_activation")
    use_bias = cell_property("use_bias")
    kernel_initializer = cell_property("kernel_initializer")
    recurrent_initializer = cell_property("recurrent_initializer")
    bias_initializer = cell_property("bias_initializer")
    unit_forget_bias = cell_property("unit_forget_bias")
    forget_bias = cell_property("forget_bias")
    kernel_regularizer = cell_property("kernel_regularizer")
    recurrent_regularizer = cell_property("recurrent_regularizer")
    bias_regularizer = cell_property("bias_regularizer")
    kernel_constraint = cell_property("kernel_constraint")
    recurrent_constraint = cell_property("recurrent_constraint")
    bias_constraint = cell_property("bias_constraint")
    dropout = cell_property("dropout")
    recurrent_dropout = cell_property("recurrent_dropout")
    seed = cell_property("seed")
    weight_dropout = cell_property("weight_dropout")

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        forget_bias=0.0,
        weight_dropout=0.0,
        **kwargs,
    ):
        # Accepted and ignored, as documented: the zoo has one implementation.
        kwargs.pop("implementation", None)
        checks.one_of("use_cudnn", use_cudnn, _USE_CUDNN)
        if not isinstance(use_cudnn, str):
            use_cudnn = bool(use_cudnn)
        cell = FusedLSTMCell(  # the cell takes its arguments as they were passed
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, forget_bias=forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            weight_dropout=weight_dropout,
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
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn
        if keras.backend.backend() == "tensorflow" and _cudnn.cudnn_may_run(
            use_cudnn, cell.activation, cell.recurrent_activation, self.unroll
        ):
            # As keras.layers.LSTM: the cuDNN op cannot be XLA-compiled.
            self.supports_jit = False

    def build(self, sequences_shape, initial_state_shape=None):
        checks.rank(type(self).__name__, sequences_shape, (3,), "batch, time, features")
        super().build(sequences_shape, initial_state_shape)

    def _accumulation_dtype(self):
        """float32 for the gates and carry under a mixed (16-bit) policy."""
        if self.cell.compute_dtype in ("bfloat16", "float16"):
            return "float32"
        return self.cell.compute_dtype

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if keras.tree.is_nested(mask):
            mask = mask[0]
        cell = self.cell
        if cell.dropout_active(training):
            # The mask RNN.call drew for this sequence, applied to all steps.
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dp_mask, axis=1)

        recurrent_kernel = cell.dropped_recurrent_kernel(cell.recurrent_kernel, training)
        args = (sequences, initial_state, mask, recurrent_kernel)
        reason = self._cudnn_blocker(mask)
        if reason is None:
            try:
                if mask is not None and self.use_cudnn == "auto":
                    # Masks other than right padding take the generic loop.
                    return ops.cond(
                        _cudnn.is_right_padded(mask),
                        lambda: self._cudnn_sequence(*args),
                        lambda: self._zoo_sequence(*args, training),
                    )
                return self._cudnn_sequence(*args)
            except NotImplementedError:
                reason = "the backend's cuDNN LSTM declined this call"
        if self.use_cudnn is True:
            raise ValueError(
                "`use_cudnn=True` was specified, but cuDNN cannot run this "
                f"FusedLSTM call: {reason}. Pass `use_cudnn='auto'` to fall "
                "back to the zoo's own loop."
            )
        return self._zoo_sequence(*args, training)

    def _cudnn_blocker(self, mask):
        """`cudnn_blocker` for this layer and call (None: use cuDNN)."""
        cell = self.cell
        return cudnn_blocker(
            self.use_cudnn,
            cell.activation,
            cell.recurrent_activation,
            cell.recurrent_dropout,
            self.unroll,
            self._accumulation_dtype() != cell.compute_dtype,
            mask is not None,
            keras.backend.backend(),
            _cudnn.gpu_available(),
        )

    def _cudnn_sequence(self, sequences, initial_state, mask, recurrent_kernel):
        """The whole sequence through the backend's LSTM (cuDNN on a GPU)."""
        bias = self.cell.effective_bias()
        return _cudnn.cudnn_sequence(
            self, sequences, initial_state, mask, bias, recurrent_kernel
        )

    def _zoo_sequence(self, sequences, initial_state, mask, recurrent_kernel, training):
        """The zoo's own loops: the hoisted fast path or the generic loop.

        `recurrent_kernel` is the cell's, weight-dropped in training.
        """
        cell = self.cell
        compute_dtype = cell.compute_dtype
        acc_dtype = self._accumulation_dtype()
        rec_mask = None
        if cell.recurrent_dropout_active(training):
            rec_mask = cell.get_recurrent_dropout_mask(initial_state[0])
            rec_mask = ops.cast(rec_mask, acc_dtype)

        bias = cell.effective_bias()
        recurrent_kernel = ops.cast(ops.convert_to_tensor(recurrent_kernel), compute_dtype)
        initial_state = [ops.cast(s, acc_dtype) for s in initial_state]
        if mask is None and self._has_standard_math():
            # Fast path: whole sequence, hand-written backward pass.
            return self._fast_recurrence(
                sequences, bias, initial_state, recurrent_kernel, rec_mask
            )

        # Generic path (masks, other activations): the input projection of
        # every timestep in one matmul, then one recurrent matmul per step.
        projected = ops.matmul(sequences, cell.kernel) + bias
        return masked_lstm_loop(
            ops.cast(projected, acc_dtype),
            initial_state[0],
            initial_state[1],
            recurrent_kernel,
            rec_mask,
            cell.activation,
            cell.recurrent_activation,
            mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def _has_standard_math(self):
        """Whether `lstm_sequence` (tanh/sigmoid, custom gradient) applies."""
        return (
            keras.backend.backend() in ("tensorflow", "jax")
            and self.cell.activation is keras.activations.tanh
            and self.cell.recurrent_activation is keras.activations.sigmoid
        )

    def _fast_recurrence(self, sequences, bias, initial_state, recurrent_kernel, rec_mask):
        cell = self.cell
        dtype = cell.compute_dtype
        x = ops.transpose(ops.cast(sequences, dtype), (1, 0, 2))  # time-major
        if self.go_backwards:
            x = ops.flip(x, axis=0)
        hs, c_last = lstm_sequence(
            x,
            ops.cast(ops.convert_to_tensor(cell.kernel), dtype),
            ops.cast(bias, dtype),
            initial_state[0],
            initial_state[1],
            recurrent_kernel,
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
        config.update({k: cell_config[k] for k in CELL_ARGS})
        config["use_cudnn"] = self.use_cudnn
        del config["cell"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


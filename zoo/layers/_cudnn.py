"""`FusedLSTM`'s hand-off to the backend's cuDNN LSTM (private).

`cudnn_blocker` is the decision (a pure function, tested as a table), the rest
the call: the entry point `keras.layers.LSTM` uses, `_keras_private.lstm`
(`CudnnRNNV3` on TensorFlow, `jax.experimental.rnn` on JAX), which raises
`NotImplementedError` where it cannot run.
"""

import keras
from keras import ops

from zoo import _keras_private


def gpu_available():
    """Whether the backend's cuDNN LSTM can run here (its own device check)."""
    return bool(
        _keras_private.cudnn_ok(
            keras.activations.tanh, keras.activations.sigmoid, False, True
        )
    )


def cudnn_may_run(use_cudnn, activation, recurrent_activation, unroll):
    """Whether a layer so set may reach cuDNN on this machine (TF: no XLA)."""
    return use_cudnn is not False and bool(
        _keras_private.cudnn_ok(activation, recurrent_activation, unroll, True)
    )


def cudnn_blocker(
    use_cudnn,
    activation,
    recurrent_activation,
    recurrent_dropout,
    unroll,
    mixed_precision,
    has_mask,
    backend,
    gpu_available,
):
    """Why `FusedLSTM` cannot hand a call to the backend's cuDNN LSTM.

    A pure function of the layer's settings, the call's mask and the device,
    mirroring `keras.layers.LSTM`: cuDNN computes the standard LSTM
    (tanh/sigmoid) over the whole sequence, without recurrent dropout,
    unrolling, or masks other than right padding. The forget bias needs no
    condition: it is folded into the bias handed to cuDNN; nor does weight
    drop (`weight_dropout`): it masks a weight, not an activation, so cuDNN
    takes the masked recurrent kernel.

    Args:
        use_cudnn: `"auto"`, `True` or `False`, the layer's setting.
        activation, recurrent_activation: the cell's activations.
        recurrent_dropout: float, the cell's recurrent dropout rate.
        unroll: bool, the layer's `unroll`.
        mixed_precision: bool, whether the compute dtype is 16-bit (the layer
            then keeps its carry in float32, which cuDNN does not).
        has_mask: bool, whether the call has a mask.
        backend: str, `keras.backend.backend()`.
        gpu_available: bool, whether the backend sees a cuDNN device.

    Returns:
        `None` when cuDNN applies (with a mask: on TensorFlow, and only if the
        mask turns out right-padded), else a short reason.
    """
    if use_cudnn is False:
        return "use_cudnn=False"
    if activation is not keras.activations.tanh:
        return "activation is not tanh"
    if recurrent_activation is not keras.activations.sigmoid:
        return "recurrent_activation is not sigmoid"
    if 0.0 < recurrent_dropout < 1.0:
        return "recurrent_dropout is set"
    if unroll:
        return "unroll=True"
    if mixed_precision:
        return "a mixed precision policy keeps the carry in float32"
    if has_mask and backend != "tensorflow":
        return f"the {backend} backend's cuDNN LSTM takes no mask"
    if not gpu_available:
        return "no GPU with cuDNN is available"
    return None


def is_right_padded(mask):
    """Scalar bool tensor: every row is `True`s then `False`s, none empty."""
    mask = ops.cast(mask, "int32")
    lengths = ops.sum(mask, axis=1)
    steps = ops.arange(ops.shape(mask)[1], dtype="int32")
    expected = ops.cast(steps[None, :] < lengths[:, None], "int32")
    return ops.logical_and(ops.all(mask == expected), ops.all(lengths > 0))


def cudnn_sequence(layer, sequences, initial_state, mask, bias, recurrent_kernel=None):
    """`layer`'s whole sequence through the backend's LSTM (cuDNN on a GPU).

    Args:
        layer: the `FusedLSTM` (its cell's weights and activations, its
            `return_sequences`, `go_backwards`, `unroll`).
        sequences: tensor `(batch, time, features)`.
        initial_state: list `[h, c]`.
        mask: optional boolean tensor `(batch, time)`, right-padded.
        bias: tensor `(4 * units,)`, the bias with `forget_bias` folded in.
        recurrent_kernel: optional tensor `(units, 4 * units)` used instead
            of the cell's variable (the weight-dropped kernel in training).

    Returns:
        `(last_output, outputs, [h, c])`, as `keras.layers.RNN.inner_loop`.
    """
    cell = layer.cell
    return _keras_private.lstm(
        sequences,
        initial_state[0],
        initial_state[1],
        mask,
        kernel=cell.kernel,
        recurrent_kernel=(
            cell.recurrent_kernel if recurrent_kernel is None else recurrent_kernel
        ),
        bias=bias,
        activation=cell.activation,
        recurrent_activation=cell.recurrent_activation,
        return_sequences=layer.return_sequences,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
    )

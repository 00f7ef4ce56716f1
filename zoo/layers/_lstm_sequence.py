"""Whole-sequence LSTM with a hand-written backward pass (private).

The function computed is the plain LSTM, time-major, with the input
projection of every timestep done in one matmul before the recurrence:

    z_x = x @ kernel + bias                                (all steps at once)
    z = z_x[t] + (h * m) @ recurrent_kernel                (m: recurrent dropout)
    i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)
    c = f * c + i * g;                 h = o * tanh(c)

Left to autodiff, every step of the loop records a dozen small ops that the
backward loop replays one by one, plus a `(units, 4 units)` weight gradient
per step. `lstm_sequence` gives the whole sequence a custom gradient
(`keras.ops.custom_gradient`, so TensorFlow and JAX both use it):

- forward: only what must be sequential (one matmul and the gate math per
  step); the pre-activations `z` are kept, not the activated gates.
- backward: everything that does not depend on the carried gradient (the
  activations again, their derivatives, `tanh(c)`) is computed for all
  timesteps at once *before* the loop, so a backward step is a handful of
  elementwise ops and one matmul `dz @ recurrent_kernel.T`; *after* the loop,
  the gradients of `kernel`, `recurrent_kernel` and `x` come out of one large
  matmul each over all timesteps (`x.T @ dz`, `h_prev.T @ dz`,
  `dz @ kernel.T`), that of `bias` out of one sum.

The math is the LSTM's (tests compare forward and gradients with the plain
cell to 1e-5); only the order of the work changes. Sequences with a static
length up to `MAX_UNROLL` are unrolled in Python (no loop overhead; the graph
grows with the length); longer ones loop with `keras.ops.scan` (a
`tf.while_loop` or a `jax.lax.scan`). `lstm_sequence` takes no mask:
`masked_lstm_loop` below, `FusedLSTM`'s generic loop (any activations, masks,
gradients by autodiff), does.
"""

from keras import ops

from zoo import _keras_private
from zoo.layers._lstm_base import lstm_gates

# Longest static sequence that is unrolled in Python rather than looped.
MAX_UNROLL = 64


def _activate(z):
    """[i, f, g, o] from pre-activations `z` (..., 4U)."""
    z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
    return ops.sigmoid(z_i), ops.sigmoid(z_f), ops.tanh(z_g), ops.sigmoid(z_o)


def _forward_step(
    z_x, h, c, recurrent_kernel, rec_mask, activation=ops.tanh,
    recurrent_activation=ops.sigmoid,
):
    """One step on the projected input `z_x`: the new `h`, `c` and `z`."""
    h_rec = h if rec_mask is None else h * rec_mask
    z_h = ops.matmul(ops.cast(h_rec, recurrent_kernel.dtype), recurrent_kernel)
    z = z_x + ops.cast(z_h, z_x.dtype)
    h, c = lstm_gates(z, c, activation, recurrent_activation)
    return h, c, z


def _backward_step(dh_out, p, k, f, dh, dc, kernel_t, rec_mask):
    """One step back: `dz` of this step and the gradients carried further."""
    dh = dh + dh_out
    dc = dc + dh * k
    dz = ops.concatenate([dc, dc, dc, dh], axis=-1) * p
    dh = ops.cast(ops.matmul(ops.cast(dz, kernel_t.dtype), kernel_t), dz.dtype)
    if rec_mask is not None:
        dh = dh * rec_mask
    return dz, dh, dc * f


def _backward_factors(zs, cs, c0):
    """Per-step factors of the backward pass, for all timesteps at once.

    With [i, f, g, o] the activated gates, the pre-activation gradient of
    step t is `dz = [dc, dc, dc, dh] * p[t]` and the carry gradient picks up
    `dh * k[t]` before it, where

        p = [g i (1-i), c_prev f (1-f), i (1-g^2), tanh(c) o (1-o)]
        k = o (1 - tanh(c)^2)

    Args are time-major: zs `(T, B, 4U)`, cs `(T, B, U)`, c0 `(B, U)`.
    """
    i, f, g, o = _activate(zs)
    c_prev = ops.concatenate([ops.expand_dims(c0, 0), cs[:-1]], axis=0)
    tc = ops.tanh(cs)
    p = ops.concatenate(
        [
            g * i * (1.0 - i),
            c_prev * f * (1.0 - f),
            i * (1.0 - g * g),
            tc * o * (1.0 - o),
        ],
        axis=-1,
    )
    return p, o * (1.0 - tc * tc), f


def _recurrence(z_x, h0, c0, recurrent_kernel, rec_mask, unroll):
    """Forward loop: all outputs, carries and pre-activations, time-major."""
    if unroll:
        h, c = h0, c0
        hs, cs, zs = [], [], []
        for z_t in ops.unstack(z_x, num=z_x.shape[0], axis=0):
            h, c, z = _forward_step(z_t, h, c, recurrent_kernel, rec_mask)
            hs.append(h)
            cs.append(c)
            zs.append(z)
        return ops.stack(hs), ops.stack(cs), ops.stack(zs)

    # keras.ops.scan on TensorFlow stacks outputs shaped like the carry, so
    # the carry also holds the step's `z` (started at zeros, never read).
    def step(carry, z_t):
        h, c, z = _forward_step(z_t, carry[0], carry[1], recurrent_kernel, rec_mask)
        return (h, c, z), (h, c, z)

    _, (hs, cs, zs) = ops.scan(step, (h0, c0, ops.zeros_like(z_x[0])), z_x)
    return hs, cs, zs


def _backward_recurrence(d_hs, p, k, f, dh, dc, kernel_t, rec_mask, unroll):
    """Backward loop over time: `dz` of every step (time-major), `dh0`, `dc0`."""
    if unroll:
        steps = d_hs.shape[0]
        per_step = list(
            zip(*(ops.unstack(t, num=steps, axis=0) for t in (d_hs, p, k, f)))
        )
        dzs = [None] * steps
        for t in reversed(range(steps)):
            dzs[t], dh, dc = _backward_step(
                *per_step[t], dh, dc, kernel_t, rec_mask
            )
        return ops.stack(dzs), dh, dc

    # As in `_recurrence`, the carry holds `dz` too; `reverse` scans from the
    # last step and stacks the outputs in time order. The four per-step
    # inputs travel as one tensor `(T, B, 7U)`: Keras's TensorFlow `scan`
    # fails on several inputs of unknown length (it calls
    # `assert_is_compatible_with` on a `None` dimension).
    units = dh.shape[-1]
    packed = ops.concatenate([d_hs, p, k, f], axis=-1)
    split_at = [units, 5 * units, 6 * units]

    def step(carry, packed_t):
        per_step = ops.split(packed_t, split_at, axis=-1)
        dz, dh, dc = _backward_step(*per_step, carry[0], carry[1], kernel_t, rec_mask)
        return (dh, dc, dz), (dh, dc, dz)

    (dh, dc, _), (_, _, d_z) = ops.scan(
        step, (dh, dc, ops.zeros_like(p[0])), packed, reverse=True
    )
    return d_z, dh, dc


def lstm_sequence(
    x, kernel, bias, h0, c0, recurrent_kernel, rec_mask=None, unroll=None
):
    """Runs an LSTM layer over a time-major sequence.

    Args:
        x: tensor `(time, batch, features)` in the compute dtype.
        kernel: tensor `(features, 4 * units)`, compute dtype.
        bias: tensor `(4 * units,)`, compute dtype (forget bias included).
        h0: tensor `(batch, units)`, initial output state, accumulation dtype
            (float32 under a 16-bit compute dtype).
        c0: tensor `(batch, units)`, initial carry, accumulation dtype.
        recurrent_kernel: tensor `(units, 4 * units)`, compute dtype.
        rec_mask: optional tensor `(batch, units)`, accumulation dtype: the
            recurrent dropout mask applied to `h` before every recurrent
            matmul.
        unroll: bool, unroll the loops in Python; `None` unrolls static
            lengths up to `MAX_UNROLL`.

    Returns:
        `(hs, c_last)`: all outputs `(time, batch, units)` and the last carry,
        in the accumulation dtype. The last output is `hs[-1]`.
    """
    steps = x.shape[0]
    if unroll is None:
        unroll = steps is not None and steps <= MAX_UNROLL
    elif unroll and steps is None:
        raise ValueError("`unroll=True` needs a static number of timesteps.")
    acc_dtype = h0.dtype

    def forward(x, kernel, bias, h0, c0, recurrent_kernel, *mask):
        rec_mask = mask[0] if mask else None
        features, units = x.shape[-1], h0.shape[-1]
        z_x = ops.cast(ops.matmul(x, kernel) + bias, acc_dtype)
        hs, cs, zs = _recurrence(z_x, h0, c0, recurrent_kernel, rec_mask, unroll)

        def grad(*upstream, variables=None):
            if len(upstream) == 1:  # JAX hands the output cotangents as one tuple
                upstream = upstream[0]
            d_hs, d_c_last = upstream
            d_hs = ops.zeros_like(hs) if d_hs is None else d_hs
            dc = ops.zeros_like(c0) if d_c_last is None else d_c_last
            p, k, f = _backward_factors(zs, cs, c0)
            kernel_t = ops.transpose(recurrent_kernel)
            d_z, dh0, dc0 = _backward_recurrence(
                d_hs, p, k, f, ops.zeros_like(h0), dc, kernel_t, rec_mask, unroll
            )
            h_prev = ops.concatenate([ops.expand_dims(h0, 0), hs[:-1]], axis=0)
            if rec_mask is not None:
                h_prev = h_prev * rec_mask
            d_z = ops.reshape(d_z, (-1, 4 * units))
            d_bias = ops.cast(ops.sum(d_z, axis=0), bias.dtype)
            d_z = ops.cast(d_z, x.dtype)
            x_flat = ops.reshape(x, (-1, features))
            h_flat = ops.reshape(ops.cast(h_prev, x.dtype), (-1, units))
            d_kernel = ops.matmul(ops.transpose(x_flat), d_z)
            d_recurrent_kernel = ops.matmul(ops.transpose(h_flat), d_z)
            d_x = ops.reshape(ops.matmul(d_z, ops.transpose(kernel)), ops.shape(x))
            grads = [d_x, d_kernel, d_bias, dh0, dc0, d_recurrent_kernel]
            if mask:
                grads.append(ops.zeros_like(rec_mask))
            if variables is not None:  # TensorFlow asks when variables are read
                return tuple(grads), [None] * len(variables)
            return tuple(grads)

        return (hs, cs[-1]), grad

    args = (x, kernel, bias, h0, c0, recurrent_kernel)
    if rec_mask is not None:
        args = args + (rec_mask,)
    return ops.custom_gradient(forward)(*args)


def masked_lstm_loop(
    z_x, h0, c0, recurrent_kernel, rec_mask, activation, recurrent_activation,
    mask, **rnn_args
):
    """The generic recurrence: any activations, masks as in `keras.layers.RNN`.

    Autodiff gives the gradients. The loop is the backend's own masked one
    (`_keras_private.rnn`, what every Keras RNN runs: states carried over masked
    steps, outputs repeated or zeroed there).

    Args:
        z_x: tensor `(batch, time, 4 * units)`, `x @ kernel + bias` of every
            step, accumulation dtype.
        h0, c0: tensors `(batch, units)`, the initial states, accumulation dtype.
        recurrent_kernel: tensor `(units, 4 * units)`, compute dtype.
        rec_mask: optional `(batch, units)` recurrent dropout mask.
        activation, recurrent_activation: the cell's activations.
        mask: optional boolean tensor `(batch, time)`.
        **rnn_args: `go_backwards`, `unroll`, `zero_output_for_mask`,
            `return_all_outputs` of the layer.

    Returns:
        `(last_output, outputs, [h, c])`, as `keras.layers.RNN.inner_loop`.
    """

    def step(z_t, states):
        h, c, _ = _forward_step(
            z_t, states[0], states[1], recurrent_kernel, rec_mask, activation,
            recurrent_activation,
        )
        return h, [h, c]

    return _keras_private.rnn(
        step, z_x, [h0, c0], mask=mask, input_length=z_x.shape[1], **rnn_args
    )

"""Reading one token stream through a stateful batch-1 language model, chunk by chunk.

Shared by the evaluation-time adaptations (`cache_pointer`, `dynamic_eval`). The chunks are
the PTB reader's at batch 1: inputs `ids[k·T:(k+1)·T]`, targets one token later, for
`k < (N - 1) // T`; the fewer than `T` trailing tokens that do not fill a chunk go unscored,
as in `zoo.experiments.evaluate.evaluate_stream`.
"""

import keras
import numpy as np

from zoo import checks


def chunk_length(model):
    """`T` of a model with the static input shape `(1, T)` and `T` outputs a row.

    Raises:
        ValueError: another batch size, no static length, or an output of another length
            (the bigram models read `T + 1` characters for `T` predictions).
    """
    shape = tuple(model.inputs[0].shape)
    out = tuple(model.outputs[0].shape)
    if len(shape) != 2 or shape[0] != 1 or shape[1] is None:
        raise ValueError("Argument `model` must take ids of the static shape (1, T) (a "
                         "stateful batch-1 copy, e.g. from zoo.models.copy_to_batch). "
                         f"Received: model with input shape {shape}")
    if len(out) != 3 or out[1] != shape[1]:
        raise ValueError("Argument `model` must map ids (1, T) to logits (1, T, vocab). "
                         f"Received: model with input shape {shape} and output shape {out}")
    return int(shape[1])


def stream_ids(ids, length):
    """`ids` as a 1-D int32 array long enough for one chunk of `length` tokens + 1."""
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        checks.invalid("ids", "a 1-D sequence of integer token ids", ids,
                       shown=f"array of shape {arr.shape} and dtype {arr.dtype}")
    if arr.size < length + 1:
        raise ValueError(f"Argument `ids` must hold at least {length + 1} tokens (one chunk "
                         f"of {length} and its last target). Received: {arr.size} tokens")
    return arr.astype("int32")


def chunks(ids, length):
    """`(x, y)` pairs: `x` of shape (1, length), `y` of shape (length,), in stream order."""
    for k in range((len(ids) - 1) // length):
        start = k * length
        yield ids[None, start:start + length], ids[start + 1:start + length + 1]


def target_log_probs(logits, targets):
    """`log softmax(logits)[t, targets[t]]` in float64 for logits (T, V) and targets (T,)."""
    z = np.asarray(logits, dtype="float64")
    z = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=-1))
    return z[np.arange(len(targets)), targets] - log_norm



def forward(model, x):
    """`model(x)` at inference as numpy arrays, its stateful RNNs moving on.

    `predict_on_batch` (compiled, about 20× faster than a plain call on TensorFlow), but a
    plain call on JAX, where `predict` and `predict_on_batch` leave the RNN states where they
    were (checked with Keras 3.15), so chunks would not carry over.
    """
    if keras.backend.backend() == "jax":
        out = model(x, training=False)
    else:
        out = model.predict_on_batch(x)
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)

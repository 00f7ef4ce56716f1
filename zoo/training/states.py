"""Find, read, write and reset the states of stateful RNN layers.

`keras.Model` has no `reset_states()` in Keras 3, and a stateful RNN may sit anywhere:
inside a nested model, a `Bidirectional` wrapper or a custom layer. These helpers walk
the model once and act on every stateful `keras.layers.RNN` they find (which includes
`keras.layers.LSTM`/`GRU`/`SimpleRNN`, any `keras.layers.RNN(cell)` and subclasses of it
such as `zoo.layers.FusedLSTM`).

They work on every Keras backend. On JAX, `fit`/`evaluate` keep the variables' values
outside the variables between batches; the helpers first ask the model to write them
back (`jax_state_sync`), so they are safe to call from any callback hook.

Under `tf.distribute` (a model built in `strategy.scope()`), each replica keeps its own copy
of every state variable, for its own rows of the batch; the helpers read and write every
local copy (see `zoo.training.distribute`).
"""

import keras
import numpy as np
from keras import ops

from zoo import _keras_private
from zoo import checks


def _children(layer):
    """Direct sub-layers of `layer`, through public attributes where Keras has them."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    if isinstance(layer, keras.layers.Wrapper):
        return [layer.layer]
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    # A custom layer that owns sub-layers as attributes: Keras tracks them, but only
    # exposes them privately (zoo/_keras_private.py).
    return _keras_private.sub_layers(layer)


def find_stateful_rnn_layers(model):
    """Returns every stateful `keras.layers.RNN` inside `model`, in a fixed order.

    The walk is depth-first in layer order and descends into nested models,
    `Bidirectional` (forward layer, then backward layer), other wrappers and custom
    layers. A layer reached twice (shared) is listed once.

    Args:
        model: `keras.Model` or `keras.layers.Layer`, the model to search.

    Returns:
        A list of `keras.layers.RNN` instances with `stateful=True`.

    Example:
    ```python
    inputs = keras.Input(batch_shape=(4, 10, 3))
    x = keras.layers.LSTM(8, stateful=True, return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    find_stateful_rnn_layers(model)  # [<LSTM ...>]
    ```
    """
    checks.instance("model", model, keras.layers.Layer,
                    "a keras.Model or keras.layers.Layer")
    found, seen = [], set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, keras.layers.RNN):
            if layer.stateful:
                found.append(layer)
            return
        for child in _children(layer):
            visit(child)

    visit(model)
    return found


def _sync_backend_state(model):
    """On JAX, writes the values held by a running fit/evaluate back into the variables.

    Afterwards the running loop re-reads the variables before its next step, so values
    assigned by a callback take effect. A no-op on other backends and outside a loop.
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None and _keras_private.jax_state_in_flight(model):
        sync()


def _state_variables(model):
    variables = []
    for layer in find_stateful_rnn_layers(model):
        if layer.states is not None:
            variables.extend(layer.states)
    return variables


def _local_copies(variable):
    """The replicas' copies of a state variable of a model built under tf.distribute.

    A stateful RNN built in a `tf.distribute` scope holds its states in `MirroredVariable`s
    with aggregation NONE: each replica reads and writes its own copy, which holds the
    states of that replica's rows. Reading the variable itself would give replica 0's
    copy only, and assigning it would overwrite every copy with one value. Returns the
    copies of this machine's replicas in replica order, or `None` for a plain variable.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf  # the backend: already imported

    value = getattr(variable, "value", variable)
    if isinstance(value, tf.distribute.DistributedValues):
        return list(value.distribute_strategy.experimental_local_results(value))
    return None


def _read_state(variable):
    copies = _local_copies(variable)
    if copies is None:
        return np.array(variable.numpy())
    # This machine's rows of the global batch, in order, as one device would hold them.
    return np.concatenate([np.asarray(c.numpy()) for c in copies], axis=0)


def _state_shape(variable):
    copies = _local_copies(variable)
    shape = tuple(variable.shape)
    return shape if copies is None else (len(copies) * shape[0],) + shape[1:]


def _write_state(variable, value):
    copies = _local_copies(variable)
    if copies is None:
        variable.assign(value)
        return
    for copy, rows in zip(copies, np.split(value, len(copies), axis=0)):
        copy.assign(rows)


def reset_rnn_states(model):
    """Sets the states of every stateful RNN in `model` to zeros.

    Unbuilt layers (no state yet) are skipped: they start from zeros when built.

    Args:
        model: `keras.Model`, the model whose stateful RNN layers to reset.

    Returns:
        The number of stateful RNN layers found.

    Example:
    ```python
    model.fit(x, y, epochs=1, shuffle=False)
    reset_rnn_states(model)
    model.evaluate(x_val, y_val)  # starts from zero states
    ```
    """
    _sync_backend_state(model)
    layers = find_stateful_rnn_layers(model)
    for layer in layers:
        if layer.states is not None:
            for v in layer.states:
                v.assign(ops.zeros(v.shape, dtype=v.dtype))
    return len(layers)


def get_rnn_states(model):
    """Returns copies of all stateful-RNN states of `model` as a flat list of numpy arrays.

    The order is that of `find_stateful_rnn_layers`, each layer's states in the layer's
    own order (for an LSTM: `h`, then `c`). Feed the list back to `set_rnn_states`.

    Args:
        model: `keras.Model`, the model to read.

    Returns:
        A list of numpy arrays of shape `(batch_size, state_size)`. For a model built
        under `tf.distribute` at the per-replica batch size, the states of this machine's
        replicas stacked in replica order, `(local_replicas * batch_size, state_size)`:
        under `MirroredStrategy`, the states of the whole global batch.

    Example:
    ```python
    snapshot = get_rnn_states(model)
    model.predict(x_other)
    set_rnn_states(model, snapshot)
    ```
    """
    _sync_backend_state(model)
    return [_read_state(v) for v in _state_variables(model)]


def set_rnn_states(model, states):
    """Assigns the states of every stateful RNN in `model` from a list of arrays.

    Args:
        model: `keras.Model`, the model to write.
        states: list of arrays, as returned by `get_rnn_states` for a model of the same
            architecture and batch size.

    Raises:
        ValueError: if the number or the shapes of the arrays do not match.

    Example:
    ```python
    set_rnn_states(model, get_rnn_states(other_model_with_same_shapes))
    ```
    """
    _sync_backend_state(model)
    variables = _state_variables(model)
    states = list(states)
    if len(states) != len(variables):
        checks.invalid("states", f"{len(variables)} arrays, one per state tensor of the "
                       "model's stateful RNN layers", states, shown=f"{len(states)} arrays")
    for i, (v, value) in enumerate(zip(variables, states)):
        value = np.asarray(value)
        if tuple(value.shape) != _state_shape(v):
            checks.invalid(f"states[{i}]", f"an array of shape {_state_shape(v)}", value,
                           shown=f"array of shape {tuple(value.shape)}")
        _write_state(v, value.astype(v.dtype))

"""The door: every use the zoo makes of private Keras and keras-tuner (private).

Checked against Keras 3.15.1 and keras-tuner 1.4.8; `setup.cfg` pins `keras<3.16`, so a
Keras upgrade is checked here, in one place. `tests/test_private_keras.py` fails on any
other zoo module that imports `keras.src` / `keras_tuner.src`, reads or writes an
attribute `x._name` of an object other than `self`/`cls`, or passes a `"_name"` to
`getattr`/`setattr`/`hasattr`/`delattr`. Code elsewhere reaches these through this
module's attributes (`_keras_private.lstm(...)`), so a test can stand in for one with
`monkeypatch.setattr(_keras_private, "lstm", ...)`.

A leaf like `zoo.checks`: it imports nothing from the zoo, and every part may import it.

From `keras.src` (no public equivalent in Keras 3):

- `DropoutRNNCell`: the mixin that gives a custom cell variational dropout.
  `keras.layers.RNN` asks it for one dropout mask per sequence before its loop
  and clears the masks afterwards. Keras exports it nowhere; the public
  alternatives (a mask drawn inside the cell, or `Dropout` with a
  `noise_shape` outside the RNN) would change when and how masks are drawn.
- `lstm`: the backend's whole-sequence LSTM that `keras.layers.LSTM` hands a
  call to on a GPU (`CudnnRNNV3` on TensorFlow, `jax.experimental.rnn` on
  JAX); it raises `NotImplementedError` where it cannot run. The only public
  way to reach cuDNN is a `keras.layers.LSTM` layer, which owns its weights.
- `cudnn_ok`: the backend's own test of whether `lstm` can run here (a cuDNN
  GPU, standard activations), the one `keras.layers.LSTM` uses.
- `rnn`: the backend's masked recurrence, the loop of `keras.layers.RNN`. It
  carries states over masked steps and repeats the previous output there (or
  zeros, `zero_output_for_mask`), with `go_backwards` and `unroll`, exactly as
  every Keras RNN does on each backend. `keras.ops.scan` is public but takes
  no mask; `FusedLSTM`'s masked loop uses `rnn` so masks mean the same as in
  `keras.layers.LSTM`. Unmasked loops use `keras.ops.scan`.

Private attributes of Keras objects (each in one named function below):

- `sub_layers(layer)`: `Layer._flatten_layers`, the sub-layers Keras tracks on a custom
  layer's attributes. Public Keras lists them only for `Model.layers` and wrappers.
- `jax_state_in_flight(model)`: `Trainer._jax_state`, set on JAX while `fit`/`evaluate`
  hold the variables' values outside the variables (the public `jax_state_sync()` writes
  them back; nothing public says whether there is anything to write).
- `set_initial_epoch(model, epoch)`: `Model._initial_epoch`, where `fit` continues
  (what `keras.callbacks.BackupAndRestore` sets from `on_train_begin`). `fit`'s
  `initial_epoch` argument is public but cannot be changed by a callback.
- `symbolic_build(model, data_batch)` and `set_maybe_symbolic_build(model, build)`:
  `Trainer._symbolic_build` / `_maybe_symbolic_build`, the hook `fit` calls to build the
  optimizer's variables from one batch. Under `tf.distribute` the zoo builds from one
  replica's share of the batch; there is no public hook.
- `clip_gradients(optimizer)` and `set_clip_gradients(optimizer, clip)`:
  `Optimizer._clip_gradients`, the optimizer's `clipnorm`/`global_clipnorm`/`clipvalue`
  step. The zoo wraps it to clip the summed gradient under `tf.distribute`; the public
  arguments only set the norms.

From `keras_tuner.src` (no public equivalent in keras-tuner 1.4.8; imported when called,
since keras-tuner is the optional `tune` extra):

- `oracle_servicer_class()`: `keras_tuner.src.distribute.oracle_chief.OracleServicer`,
  the gRPC servicer a chief serves its oracle with.
- `add_oracle_servicer(servicer, server)`: `protos.get_service_grpc()`'s
  `add_OracleServicer_to_server`, registering it on a `grpc.server`.
- `release_oracle_lock(oracle)`: the module globals `THREADS`/`LOCKS` of
  `keras_tuner.src.engine.oracle`, the lock its `synchronized` methods hold; released
  when the current thread still holds it (a request that raised keeps it for ever).
- `trial_start_order(oracle)`: `Oracle.start_order`, the ids of the trials in the order
  they started, which keras-tuner keeps without documenting it (its public `trials` is a
  dict keyed by id).
"""

from keras.src.backend import cudnn_ok
from keras.src.backend import lstm
from keras.src.backend import rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = [
    "DropoutRNNCell", "add_oracle_servicer", "clip_gradients", "cudnn_ok",
    "jax_state_in_flight", "lstm", "oracle_servicer_class", "release_oracle_lock", "rnn",
    "set_clip_gradients", "set_initial_epoch", "set_maybe_symbolic_build", "sub_layers",
    "symbolic_build",
]


def sub_layers(layer):
    """The layers Keras tracks on `layer`'s attributes, one level down (a list).

    `[]` for an object without Keras's tracking (not a `keras.layers.Layer`).
    """
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    return list(flatten(include_self=False, recursive=False))


def jax_state_in_flight(model):
    """Whether a running JAX `fit`/`evaluate` holds `model`'s values outside its variables."""
    return bool(getattr(model, "_jax_state", None))


def set_initial_epoch(model, epoch):
    """Makes a running `fit` on `model` start at `epoch` (call from `on_train_begin`)."""
    model._initial_epoch = epoch


def symbolic_build(model, data_batch):
    """Builds `model`'s (and its optimizer's, metrics') variables from one `data_batch`."""
    model._symbolic_build(data_batch=data_batch)


def set_maybe_symbolic_build(model, build):
    """Replaces the hook `fit` calls first, `build(iterator=None, data_batch=None)`."""
    model._maybe_symbolic_build = build


def clip_gradients(optimizer):
    """`optimizer`'s gradient clipping, a function `grads -> grads` (its current one)."""
    return optimizer._clip_gradients


def set_clip_gradients(optimizer, clip):
    """Makes `optimizer` clip its gradients with `clip`, a function `grads -> grads`."""
    optimizer._clip_gradients = clip


def oracle_servicer_class():
    """keras-tuner's gRPC `OracleServicer` class (serves an oracle to the workers)."""
    from keras_tuner.src.distribute import oracle_chief

    return oracle_chief.OracleServicer


def add_oracle_servicer(servicer, server):
    """Registers an `OracleServicer` on a `grpc.server`."""
    from keras_tuner.src import protos

    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


def release_oracle_lock(oracle):
    """Releases `oracle`'s keras-tuner lock if the current thread holds it.

    Returns:
        bool, whether it was held (and is now released).
    """
    import threading

    from keras_tuner.src.engine import oracle as oracle_module

    if oracle_module.THREADS[oracle] != threading.current_thread().name:
        return False
    oracle_module.THREADS[oracle] = None
    oracle_module.LOCKS[oracle].release()
    return True


def trial_start_order(oracle):
    """The ids of `oracle`'s trials in start order (empty when it keeps none)."""
    return list(getattr(oracle, "start_order", []))

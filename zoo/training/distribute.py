"""Data-parallel training of stateful language models with `tf.distribute`.

A stateful LM reads its data as `ptb_iterator` lays it out: row `r` of batch `k + 1`
continues row `r` of batch `k`. Split over `R` replicas, a global batch of `B` rows gives
replica `j` the rows `j*B/R ... (j+1)*B/R - 1` of every batch, so each replica keeps reading
its own rows of text, and its LSTM states are those rows' states:

- the model is built inside `strategy.scope()` at the per-replica batch `B/R`
  (`replica_batch_size`). Keras's stateful RNN then keeps its states in `MirroredVariable`s
  with aggregation NONE: each replica reads and writes its own copy (checked by
  `tests/training/test_distribute.py`), and `zoo.training`'s state helpers read and write
  every copy, so `StatefulRNNCallback` resets and isolates them as on one device;
- `distribute_stateful_dataset` hands each replica its rows of every global batch
  (every worker reads the whole, small, id stream and keeps its own rows);
- `prepare_distributed_model` makes `global_clipnorm` clip the summed gradient, as on one
  device (Keras 3.15 clips each replica's share before summing them), and lets Keras 3.15
  `fit` run under `MultiWorkerMirroredStrategy` at all.

With these, per-epoch training and validation perplexities equal the single-device run at
the same global batch, up to float round-off. TensorFlow backend only.

Example:
```python
strategy = make_strategy("mirrored")
with strategy.scope():
    model = build_lm(config, batch_size=replica_batch_size(strategy, config.batch_size))
    compile_lm(model, config)
prepare_distributed_model(model)
train, valid, steps = distribute_for_fit(strategy, ptb_dataset(train_ids, B, T),
                                         ptb_dataset(valid_ids, B, T), B)
model.fit(train, validation_data=valid, epochs=13, callbacks=[StatefulRNNCallback()], **steps)
```
"""

import os

import keras

from zoo import _keras_private
from zoo import checks

STRATEGIES = ("mirrored", "multi-worker")


def _require_tensorflow():
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "tf.distribute needs the TensorFlow backend. Received: "
            f"KERAS_BACKEND={keras.backend.backend()}"
        )


def make_strategy(name, devices=None):
    """The `tf.distribute` strategy called `name`.

    Args:
        name: str, `"mirrored"` (all GPUs, or `devices`, of this machine) or
            `"multi-worker"` (several machines, described by the `TF_CONFIG`
            environment variable; the CPU or GPUs of each).
        devices: list of str or None, the devices of a `"mirrored"` strategy.
            Defaults to `None` (all GPUs, else the CPU).

    Returns:
        A `tf.distribute.MirroredStrategy` or `tf.distribute.MultiWorkerMirroredStrategy`.
    """
    checks.one_of("distribute", name, STRATEGIES)
    _require_tensorflow()
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if devices is not None:
        raise ValueError(
            "Argument `devices` only applies to the mirrored strategy. "
            f"Received: devices={devices}"
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def replica_batch_size(strategy, global_batch_size):
    """Rows each replica reads per step: `global_batch_size / num_replicas_in_sync`.

    Build the stateful model at this batch size inside `strategy.scope()`.

    Raises:
        ValueError: if the global batch does not split evenly over the replicas.
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"Argument `batch_size` must be divisible by the number of replicas "
            f"({replicas}). Received: batch_size={global_batch_size}"
        )
    return global_batch_size // replicas


def distribute_stateful_dataset(strategy, dataset, global_batch_size):
    """Splits every global batch of `dataset` row-wise over the replicas, in order.

    Replica `j` of `R` (workers in `TF_CONFIG` order, each worker's replicas in device order)
    receives rows `j*b ... (j+1)*b - 1` of each batch, `b = global_batch_size / R`, so a
    stateful model sees on each replica the same rows, batch after batch. Every worker
    reads the whole `dataset` and keeps its own rows (no auto-sharding).

    Keras cannot tell the length of the result: pass `steps_per_epoch` and
    `validation_steps` (or `steps`) to `fit`/`evaluate`, and `.repeat()` a one-pass
    dataset for more than one epoch.

    Args:
        strategy: a `tf.distribute.Strategy`.
        dataset: `tf.data.Dataset` whose elements (any structure of tensors) all have
            a static first dimension `global_batch_size`.
        global_batch_size: int, rows of each element of `dataset`.

    Returns:
        A distributed dataset to pass to `fit`/`evaluate` in place of `dataset`.
    """
    import tensorflow as tf

    b = replica_batch_size(strategy, global_batch_size)
    for spec in tf.nest.flatten(dataset.element_spec):
        if not spec.shape.rank or spec.shape[0] != global_batch_size:
            raise ValueError(
                "Argument `dataset` must have elements of static first dimension "
                f"{global_batch_size} (the global batch). Received: element_spec="
                f"{dataset.element_spec}"
            )
    replicas = strategy.num_replicas_in_sync

    def worker_dataset(context):
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local * b

        def my_rows(*element):
            # [B, ...] -> [local, b, ...]: one slice per local replica, in replica order;
            # unbatch() then yields them in turn, and tf.distribute deals consecutive
            # elements to the worker's replicas round-robin.
            return tf.nest.map_structure(
                lambda t: tf.reshape(t[first:first + local * b], [local, b, *t.shape[1:]]),
                element if len(element) > 1 else element[0],
            )

        return dataset.map(my_rows).unbatch()

    return strategy.distribute_datasets_from_function(worker_dataset)


def prepare_distributed_model(model):
    """Fixes two Keras 3.15 problems of `fit`/`evaluate` under tf.distribute, on `model`.

    Call it once, after `compile`, on a model built in `strategy.scope()`:

    - `all_reduce_before_clipping(model.optimizer)`: clipping acts on the summed gradient;
    - before its first step, Keras builds the metrics from one batch that it first averages
      over the replicas with `strategy.reduce`, which fails under
      `MultiWorkerMirroredStrategy` ("Attempt to convert a value (PerReplica...) with an
      unsupported type", keras-team/keras#20585) since the batch is an `(x, y)` tuple;
      only shapes are needed, so the model builds from replica 0's share instead;
    - with several workers, Keras averages each step's logs over the replicas with
      `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars ("Invalid reduction
      dimension 0 for input with 0 dimensions"): the train and test steps return their
      scalar logs with a length-1 axis, which that reduction removes again.

    Args:
        model: a compiled `keras.Model` built under a `tf.distribute` strategy.

    Returns:
        `model`.
    """
    _require_tensorflow()
    import tensorflow as tf

    all_reduce_before_clipping(model.optimizer)
    strategy = model.distribute_strategy

    def first_replica(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:  # Keras resets the iterator afterwards
                data_batch = tf.nest.map_structure(first_replica, next(it))
                break
        with strategy.scope():
            _keras_private.symbolic_build(model, data_batch)

    _keras_private.set_maybe_symbolic_build(model, maybe_symbolic_build)

    if num_workers(strategy) > 1:

        def with_batch_axis(step):
            def wrapped(data):
                logs = step(data)
                return {k: _rank_one(v) for k, v in logs.items()} if isinstance(
                    logs, dict) else logs

            return wrapped

        model.train_step = with_batch_axis(model.train_step)
        model.test_step = with_batch_axis(model.test_step)
    return model


def _rank_one(value):
    import tensorflow as tf

    value = tf.convert_to_tensor(value)
    return tf.reshape(value, [1]) if value.shape.rank == 0 else value


def num_workers(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec()
    return max(sum(spec.num_tasks(job) for job in spec.jobs if job in ("chief", "worker")), 1)


def all_reduce_before_clipping(optimizer):
    """Makes `optimizer`'s gradient clipping act on the summed gradient under tf.distribute.

    Keras 3.15 clips (`clipnorm`, `global_clipnorm`, `clipvalue`) each replica's share of the
    gradient and sums the clipped shares afterwards, so a clipped distributed step is not the
    single-device step. After this call, a replica's gradients are summed over all replicas
    first, clipped, and each replica passes on `1/R` of the clipped sum (Keras's own
    all-reduce then adds those back up to the clipped sum). Without clipping, or outside a
    replica context, nothing changes. Costs one more all-reduce per step where clipping is
    set. Call it once, after `compile`.

    Args:
        optimizer: a `keras.optimizers.Optimizer`.

    Returns:
        `optimizer`.
    """
    _require_tensorflow()
    import tensorflow as tf

    if getattr(_keras_private.clip_gradients(optimizer), "sums_replicas_first", False):
        return optimizer
    clip = _keras_private.clip_gradients(optimizer)

    def clip_summed(grads):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        clips = optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue
        if replicas == 1 or not clips:
            return clip(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
        clipped = clip(summed)
        out = list(grads)
        for i, g in zip(present, clipped):
            out[i] = g / tf.cast(replicas, g.dtype)
        return out

    clip_summed.sums_replicas_first = True  # so a second call changes nothing
    _keras_private.set_clip_gradients(optimizer, clip_summed)
    return optimizer


def _num_batches(dataset):
    import tensorflow as tf

    n = int(dataset.cardinality())
    if n == tf.data.INFINITE_CARDINALITY:
        raise ValueError("Argument `dataset` must be finite to count its batches.")
    if n < 0:  # unknown: count once
        n = int(dataset.reduce(0, lambda count, _: count + 1))
    return n


def distribute_for_fit(strategy, train, validation, global_batch_size, steps_per_epoch=None):
    """Distributes one-pass training and validation datasets for `model.fit`.

    Each is split row-wise by `distribute_stateful_dataset`. Keras cannot count the batches
    of a distributed dataset (and miscounts the last step of a finite one), so the
    datasets are repeated and the steps given explicitly: every epoch reads one pass of
    the training data (or `steps_per_epoch` batches of a stream), every validation one
    pass of the validation data.

    Args:
        strategy: a `tf.distribute.Strategy`.
        train: `tf.data.Dataset` of global batches; one pass is one epoch, unless
            `steps_per_epoch` is given (then it is read as one stream across epochs).
        validation: `tf.data.Dataset` of global batches, or `None`.
        global_batch_size: int, rows of every batch.
        steps_per_epoch: int or None, batches per epoch of a stream.

    Returns:
        `(train, validation, fit_kwargs)`: the distributed datasets and the
        `steps_per_epoch` / `validation_steps` to pass to `fit`.
    """
    fit_kwargs = {}
    if steps_per_epoch is None:
        steps_per_epoch = _num_batches(train)
        train = train.repeat()
    fit_kwargs["steps_per_epoch"] = steps_per_epoch
    train = distribute_stateful_dataset(strategy, train, global_batch_size)
    if validation is not None:
        fit_kwargs["validation_steps"] = _num_batches(validation)
        validation = distribute_stateful_dataset(strategy, validation.repeat(),
                                                 global_batch_size)
    return train, validation, fit_kwargs


def is_chief(strategy):
    """Whether this process writes the run's files: always, except on a non-chief worker.

    With `MultiWorkerMirroredStrategy`, the chief is the `"chief"` task of `TF_CONFIG`,
    else worker 0.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    jobs = resolver.cluster_spec().jobs
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs


def worker_output_dir(strategy, output_dir):
    """`output_dir` on the chief; `output_dir/worker-<task id>` on the other workers.

    Every worker of a multi-worker run holds the same weights and runs the same callbacks:
    the non-chief ones write their checkpoints, backups and logs apart, so no two processes
    write the same file. (`zoo.training.multi_worker.cluster_task` tells the same from
    `TF_CONFIG` before the strategy exists.)
    """
    if is_chief(strategy):
        return output_dir
    resolver = strategy.cluster_resolver
    return os.path.join(output_dir, f"{resolver.task_type}-{resolver.task_id}")

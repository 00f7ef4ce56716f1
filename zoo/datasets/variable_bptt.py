"""Variable-length BPTT (AWD-LSTM) for `model.fit`.

- `bptt_lengths(seed, epoch, num_tokens, bptt=70)`: one epoch's plan (in
  `zoo.datasets.bptt_plan`, numpy only).
- `variable_bptt_dataset(ids, batch_size, seed, epochs, bptt=70)`: the stateful batches of
  those plans (a `keras.utils.PyDataset`, defined in `variable_bptt_pipeline`; Keras is
  imported when it is called).
"""

from zoo import checks


def default_bucket():
    """The bucket `variable_bptt_dataset` uses with `bucket="auto"`: 5 on JAX, else None."""
    import keras  # noqa: PLC0415

    return 5 if keras.backend.backend() == "jax" else None


def variable_bptt_dataset(ids, batch_size, seed, epochs, bptt=70, bucket="auto"):
    """Stateful variable-length batches of `ids` for `model.fit`, and the arguments `fit` needs.

    The ids are batchified as the reference's `batchify` and the zoo's `ptb_dataset`:
    `batch_size` contiguous rows of `len(ids) // batch_size` tokens (the rest is dropped).
    Epoch `e` yields `x = data[:, s : s + n]`, `y = data[:, s + 1 : s + 1 + n]` for each
    `(s, n)` of `bptt_lengths(seed, e, len(ids) // batch_size, bptt, bucket)`, in order, so
    row `b` of each batch continues row `b` of the one before. Batches have the shape
    `(batch_size, n)` with `n` varying: the model needs `keras.Input(batch_shape=
    (batch_size, None))`.

    The dataset must be driven by `zoo.training.VariableBPTT(dataset)` in `fit`'s callbacks:
    it tells the dataset the epoch (so a run resumed at `initial_epoch`, or by
    `zoo.training.AtomicBackupAndRestore`, sees exactly the batches of an uninterrupted
    run) and scales each batch's learning rate by `plan.lr_scales`.

    Args:
        ids: 1-D int array of token ids.
        batch_size: int, rows per batch.
        seed: int >= 0, the seed of the plans.
        epochs: int, the `epochs` of `fit`: the last epoch the dataset can serve is
            `epochs - 1`.
        bptt: int >= 5, the mean sequence length. Defaults to `70`.
        bucket: `"auto"`, int or None, see `bptt_lengths`. `"auto"` is 5 when the Keras
            backend is JAX and None otherwise. Defaults to `"auto"`.

    Returns:
        `(dataset, fit_kwargs)`: a `keras.utils.PyDataset` (`VariableBPTTDataset`), and
        `{"epochs": epochs, "shuffle": False}` to pass to `fit`.

    Raises:
        ValueError: for a bad argument or too little data for one batch, before anything
            is built.

    Example:
    ```python
    ds, fit_kwargs = variable_bptt_dataset(train_ids, batch_size=20, seed=1, epochs=500)
    model.fit(ds, validation_data=valid_ds,
              callbacks=[VariableBPTT(ds), StatefulRNNCallback()], **fit_kwargs)
    ```
    """
    from zoo.datasets.variable_bptt_pipeline import VariableBPTTDataset  # noqa: PLC0415

    if isinstance(bucket, str):
        checks.one_of("bucket", bucket, ("auto",))
        bucket = default_bucket()
    dataset = VariableBPTTDataset(ids, batch_size, seed, epochs, bptt=bptt, bucket=bucket)
    return dataset, {"epochs": dataset.epochs, "shuffle": False}

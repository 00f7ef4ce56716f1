"""Learning-rate schedules of the seed recipes, for `keras.callbacks.LearningRateScheduler`.

Each factory returns a function `fn(epoch, lr) -> float` of the 0-based epoch Keras
passes; the `lr` argument (the optimizer's current rate) is ignored, so every rate is a
pure function of the epoch and a resumed run (`BackupAndRestore`) gets the same rates.
For per-step decay use `zoo.training.StepDecay`.
"""

from zoo import checks


def _epoch_schedule_args(learning_rate, lr_decay, epochs_name, epochs):
    """The checked `(learning_rate, lr_decay, epochs)` of an epoch schedule."""
    return (checks.positive_number("learning_rate", learning_rate),
            checks.positive_number("lr_decay", lr_decay),
            checks.positive_int(epochs_name, epochs))


def ptb_lr_schedule(learning_rate, lr_decay, max_epoch):
    """The TensorFlow PTB tutorial's decay, per epoch.

    `fn(epoch, lr) = learning_rate * lr_decay ** max(epoch + 1 - max_epoch, 0)`, with
    Keras's 0-based `epoch`: the first `max_epoch` epochs (0 … max_epoch − 1) train at
    `learning_rate`, then each epoch multiplies it by `lr_decay`. (This is the current
    tutorial's `i + 1 - max_epoch` with `i` 0-based; older copies used `i - max_epoch`,
    one more epoch at the full rate.)

    Args:
        learning_rate: float, the initial learning rate.
        lr_decay: float, the per-epoch decay factor once decay has started.
        max_epoch: int, the number of epochs at the initial rate.

    Returns:
        A function `fn(epoch, lr)` returning the rate for `epoch` as a float.

    Example:
    ```python
    fn = ptb_lr_schedule(1.0, 0.5, 4)
    [fn(e, None) for e in range(6)]  # [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]
    callback = keras.callbacks.LearningRateScheduler(fn)
    ```
    """
    learning_rate, lr_decay, max_epoch = _epoch_schedule_args(
        learning_rate, lr_decay, "max_epoch", max_epoch)

    def schedule(epoch, lr=None):
        return float(learning_rate * lr_decay ** max(epoch + 1 - max_epoch, 0))

    return schedule


def notebook_lr_schedule(learning_rate, lr_decay, max_max_epoch):
    """The seed PTB notebook's linear decay, per epoch.

    What is implemented, exactly, with Keras's 0-based `epoch = i`:

    - `fn(0, lr) = learning_rate`
    - `fn(i, lr) = learning_rate * lr_decay * (max_max_epoch - (i - 1)) / max_max_epoch`
      for `i ≥ 1`

    The notebook's printed log with its config (lr 1.0, decay 0.5, 13 epochs) reads
    1.000, 0.500, 0.462, … : the second epoch runs at exactly `learning_rate * lr_decay`
    and the linear fall starts from the third. The rate always derives from the
    *initial* `learning_rate` (it does not compound from the previous epoch's rate),
    reaching `learning_rate * lr_decay * 2 / max_max_epoch` in the last epoch
    `i = max_max_epoch - 1`. Epochs beyond `max_max_epoch - 1` are outside the recipe,
    so they raise `ValueError`.

    Args:
        learning_rate: float, the initial learning rate.
        lr_decay: float, the factor applied from the second epoch on.
        max_max_epoch: int, the total number of epochs of the run.

    Returns:
        A function `fn(epoch, lr)` returning the rate for `epoch` as a float.

    Example:
    ```python
    fn = notebook_lr_schedule(1.0, 0.5, 4)
    [fn(e, None) for e in range(4)]  # [1.0, 0.5, 0.375, 0.25]
    ```
    """
    learning_rate, lr_decay, max_max_epoch = _epoch_schedule_args(
        learning_rate, lr_decay, "max_max_epoch", max_max_epoch)

    def schedule(epoch, lr=None):
        if epoch >= max_max_epoch:
            checks.invalid("epoch", f"< max_max_epoch={max_max_epoch} for the notebook "
                           "schedule", epoch)
        if epoch == 0:
            return float(learning_rate)
        return float(learning_rate * lr_decay * (max_max_epoch - (epoch - 1)) / max_max_epoch)

    return schedule


def step_decay(initial_lr, factor=0.1, every=5000):
    """Per-step decay `fn(step) = initial_lr * factor ** (step // every)` (0-based step).

    The one implementation of step decay: `zoo.training.StepDecay` applies it per batch.

    Args:
        initial_lr: float, the rate at step 0.
        factor: float, the multiplier applied every `every` steps. Defaults to `0.1`.
        every: int, steps between decays. Defaults to `5000`.

    Returns:
        A function `fn(step)` returning the rate as a float.

    Example:
    ```python
    fn = step_decay(10.0)
    fn(4999), fn(5000)  # (10.0, 1.0)
    ```
    """
    initial_lr = checks.positive_number("initial_lr", initial_lr)
    factor = checks.positive_number("factor", factor)
    every = checks.positive_int("every", every)

    def schedule(step):
        return float(initial_lr * factor ** (int(step) // every))

    return schedule

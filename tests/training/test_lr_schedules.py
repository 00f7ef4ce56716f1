"""Learning-rate schedules and StepDecay against their formulas, in real fit runs."""

import keras
import numpy as np
import pytest

from zoo.training import StepDecay
from zoo.training import notebook_lr_schedule
from zoo.training import ptb_lr_schedule
from zoo.training import step_decay


def test_ptb_schedule_formula():
    fn = ptb_lr_schedule(1.0, 0.5, 4)
    assert [fn(e, 123.0) for e in range(7)] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    medium = ptb_lr_schedule(1.0, 0.8, 6)
    for epoch in range(39):
        assert medium(epoch, None) == pytest.approx(0.8 ** max(epoch + 1 - 6, 0), rel=1e-12)
    test_cfg = ptb_lr_schedule(1.0, 0.5, 1)  # max_epoch 1: decay from the second epoch
    assert [test_cfg(e, None) for e in range(3)] == [1.0, 0.5, 0.25]


# The seed notebook's printed learning rates for its first three epochs (lr 1.0, decay 0.5,
# 13 epochs): "1.000", "0.500", "0.462".
NOTEBOOK_LOG = ["1.000", "0.500", "0.462"]


def test_notebook_schedule_matches_notebook_log():
    from zoo.models import get_config

    cfg = get_config("ptb-notebook")
    assert (cfg.learning_rate, cfg.lr_decay, cfg.max_max_epoch) == (1.0, 0.5, 13)
    fn = notebook_lr_schedule(cfg.learning_rate, cfg.lr_decay, cfg.max_max_epoch)
    assert [f"{fn(i, None):.3f}" for i in range(3)] == NOTEBOOK_LOG
    assert fn(1, None) == 0.5  # epoch 2 runs at exactly lr * decay
    rates = [fn(i, None) for i in range(13)]
    assert all(a > b for a, b in zip(rates[1:], rates[2:]))  # then falls linearly
    assert rates[-1] == pytest.approx(0.5 * 2 / 13)
    with pytest.raises(ValueError, match="max_max_epoch=13"):
        fn(13, None)


def test_step_decay_formula():
    fn = step_decay(10.0)
    assert [fn(s) for s in (0, 4999, 5000, 9999, 10000)] == pytest.approx([10, 10, 1, 1, 0.1])


@pytest.mark.parametrize(
    "factory, args, match",
    [
        (ptb_lr_schedule, (0.0, 0.5, 4), "learning_rate"),
        (ptb_lr_schedule, (1.0, -0.5, 4), "lr_decay"),
        (ptb_lr_schedule, (1.0, 0.5, 0), "max_epoch"),
        (notebook_lr_schedule, (1.0, 0.5, 2.5), "max_max_epoch"),
        (step_decay, (10.0, 0.1, 0), "every"),
        (StepDecay, (10.0, 0.1, 0), "every"),
        (StepDecay, (-1.0,), "initial_lr"),
        (StepDecay, (1.0, 0.0), "factor"),
    ],
)
def test_bad_arguments(factory, args, match):
    with pytest.raises(ValueError, match=match):
        factory(*args)


def tiny_regression(lr=1.0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr, global_clipnorm=1.0), loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "schedule, expected",
    [
        (ptb_lr_schedule(1.0, 0.5, 2), [1.0, 1.0, 0.5, 0.25]),
        (notebook_lr_schedule(1.0, 0.5, 4), [1.0, 0.5, 0.375, 0.25]),
    ],
    ids=["ptb", "notebook"],
)
def test_schedule_drives_learning_rate_scheduler(schedule, expected):
    model, x, y = tiny_regression()
    history = model.fit(
        x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(schedule)],
    ).history
    np.testing.assert_allclose(history["learning_rate"], expected)


class LRProbe(keras.callbacks.Callback):
    """Records (optimizer step, learning rate) as each batch trains."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        opt = self.model.optimizer
        self.seen.append((int(opt.iterations.numpy()), float(opt.learning_rate.numpy())))


class StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated kill")


def test_step_decay_per_step_and_resumes_with_backup_and_restore(tmp_path):
    decay = StepDecay(4.0, factor=0.5, every=3)
    assert StepDecay(**decay.get_config()).get_config() == decay.get_config()

    def run(extra, backup_dir):
        model, x, y = tiny_regression(lr=123.0)  # overwritten before the first step
        probe = LRProbe()
        callbacks = [
            keras.callbacks.BackupAndRestore(str(backup_dir)), StepDecay(4.0, 0.5, 3), probe
        ] + extra
        try:
            history = model.fit(
                x, y, batch_size=4, epochs=4, shuffle=False, verbose=0, callbacks=callbacks
            ).history
        except KeyboardInterrupt:
            history = None
        return model, probe.seen, history

    model_full, seen_full, history = run([], tmp_path / "full")
    assert [s for s, _ in seen_full] == list(range(16))  # 4 epochs x 4 steps
    assert [lr for _, lr in seen_full] == pytest.approx([4.0 * 0.5 ** (s // 3) for s in range(16)])
    expected_epoch_end = [4.0 * 0.5 ** (s // 3) for s in (3, 7, 11, 15)]
    np.testing.assert_allclose(history["learning_rate"], expected_epoch_end)

    _, seen_killed, _ = run([StopAt(2)], tmp_path / "resume")
    assert [s for s, _ in seen_killed] == list(range(8))
    model_resumed, seen_resumed, _ = run([], tmp_path / "resume")
    assert seen_resumed == seen_full[8:]  # resumed at step 8 on the same schedule
    for a, b in zip(model_resumed.get_weights(), model_full.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_step_decay_refuses_schedule_optimizer():
    model, x, y = tiny_regression()
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=10, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[StepDecay(1.0)])

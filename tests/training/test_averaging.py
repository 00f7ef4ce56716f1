"""NT-ASGD (issue 18 §7): AveragedSGD's running mean against numpy, the reference trigger on
hand-made validation losses, the averaged weights in validation and checkpoints, fine-tuning,
and a kill/resume during averaging that reproduces the uninterrupted run bit for bit."""

import keras
import numpy as np
import pytest

from zoo.datasets import variable_bptt_dataset
from zoo.training import (AtomicBackupAndRestore, AtomicModelCheckpoint, AveragedSGD, NTASGD,
                          StatefulRNNCallback, VariableBPTT)
from zoo.training.averaging import nonmonotonic_step
from zoo.training.backup import read_backup

B, T, V = 2, 4, 7
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def full_history_rule(history, value, n):
    """awd-lstm-lm main.py: `len(best_val_loss) > nonmono and val_loss >
    min(best_val_loss[:-nonmono])`, on the whole list."""
    return len(history) > n and value > min(history[:-n])


def test_trigger_memory_follows_the_rule_on_the_whole_history():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5):
        for _ in range(20):
            values = rng.integers(0, 6, 15).astype(np.float32)  # many ties
            memory = np.zeros(n + 2, np.float32)
            memory[n] = np.inf
            for t, value in enumerate(values):
                fires, memory = nonmonotonic_step(memory, value, n)
                assert fires == full_history_rule(list(values[:t]), value, n), (n, values, t)


class ForceLogs(keras.callbacks.Callback):
    """Replaces the epoch's `val_loss` by a hand-made value (before NTASGD reads it)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def dense_model(nonmono, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(AveragedSGD(0.1, nonmono=nonmono), "mse")
    return model


X = np.arange(24, dtype="float32").reshape(8, 3) / 24
Y = np.ones((8, 2), "float32")


@pytest.mark.parametrize("nonmono,values,switch", [
    # epoch 4: history [5, 4, 3, 3.5], 4.5 > min([5, 4]); epoch 3: 3.5 > min([5]) is false.
    (2, [5, 4, 3, 3.5, 4.5, 1, 1], 4),
    # epoch 3: 3 > min([1]): the code's rule (the paper's misprint, min of the last two,
    # would compare with 4 and not switch).
    (2, [1, 5, 4, 3, 2.5, 2, 1], 3),
    # The reference's n = 5: epoch 6 compares 9.5 with min([10]), epoch 7 with min([10, 9]).
    (5, [10, 9, 8, 7, 6, 5, 9.5, 9.5], 7),
    (2, [7, 6, 5, 4, 3, 2, 1], None),  # improving every epoch: never
])
def test_switch_epoch_on_hand_made_validation_losses(nonmono, values, switch):
    model = dense_model(nonmono)
    callback = NTASGD()
    history = model.fit(X, Y, batch_size=4, epochs=len(values), shuffle=False, verbose=0,
                        callbacks=[ForceLogs(values), callback])
    assert callback.switch_epoch == switch
    steps = history.history["averaged_steps"]
    expected = [0.0] * len(values) if switch is None else [
        0.0 if e <= switch else 2.0 * (e - switch) for e in range(len(values))]
    assert steps == expected  # two steps an epoch, averaged from the step after the switch


class RawSteps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.after = []

    def on_train_batch_end(self, batch, logs=None):
        self.after.append(self.model.get_weights()[0])


def softmax_rows(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def numpy_loss(table, x, y):
    p = softmax_rows(table[x].astype(np.float64))
    return float(-np.log(np.take_along_axis(p, y[..., None], -1)).mean())


def numpy_sgd(table, batches, lr, clip, decay):
    """Iterates of SGD with global-norm clipping (of the dense gradient) and weight decay."""
    iterates = []
    table = table.astype(np.float64)
    for x, y in batches:
        p = softmax_rows(table[x])
        p[np.arange(x.shape[0])[:, None], np.arange(x.shape[1])[None, :], y] -= 1.0
        grad = np.zeros_like(table)
        np.add.at(grad, x, p / x.size)
        grad *= clip / max(np.sqrt((grad ** 2).sum()), clip)
        table = table - lr * decay * table - lr * grad
        iterates.append(table)
    return iterates


def test_averages_validation_and_best_checkpoint_against_numpy(tmp_path):
    """Fine-tuning mode averages from step 0: after k steps the model holds the mean of the
    k iterates (of clipped SGD with weight decay on an Embedding, clipped by its dense
    gradient's norm), validation sees that mean, and best.keras is the best epoch's mean."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, V, (6, T)).astype("int32")
    y = rng.integers(0, V, (6, T)).astype("int32")
    vx, vy = x[:B] % 3, (x[:B] + 1) % V
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, V)])
    model.compile(AveragedSGD(3.0, global_clipnorm=0.05, weight_decay=0.01), CE)
    table0 = model.get_weights()[0]
    raw, path = RawSteps(), tmp_path / "best.keras"
    history = model.fit(x, y, batch_size=B, epochs=3, shuffle=False, verbose=0,
                        validation_data=(vx, vy), validation_batch_size=B,
                        callbacks=[raw, NTASGD(mode="finetune"),
                                   AtomicModelCheckpoint(str(path), monitor="val_loss",
                                                         save_best_only=True)])
    batches = [(x[i:i + B], y[i:i + B]) for i in range(0, 6, B)] * 3
    iterates = numpy_sgd(table0, batches, 3.0, 0.05, 0.01)
    for mine, want in zip(raw.after, iterates):  # training runs on the raw weights
        np.testing.assert_allclose(mine, want, rtol=1e-5, atol=1e-6)
    means = [np.mean(iterates[:3 * (e + 1)], axis=0) for e in range(3)]
    np.testing.assert_allclose(model.get_weights()[0], means[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.optimizer.averages[0]),
                               iterates[-1], rtol=1e-5, atol=1e-6)  # swapped out, kept
    val = [numpy_loss(m, vx, vy) for m in means]
    np.testing.assert_allclose(history.history["val_loss"], val, rtol=1e-5)
    best = keras.saving.load_model(path)
    np.testing.assert_allclose(best.get_weights()[0], means[int(np.argmin(val))],
                               rtol=1e-5, atol=1e-6)
    assert isinstance(best.optimizer, AveragedSGD) and best.optimizer.nonmono == 5
    assert model.evaluate(vx, vy, batch_size=B, verbose=0) == pytest.approx(val[-1], rel=1e-5)


def stateful_lm(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(batch_shape=(B, None), dtype="int32")
    x = keras.layers.Embedding(V, 3)(inputs)
    x = keras.layers.LSTM(4, stateful=True, return_sequences=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(V)(keras.layers.Dropout(0.2)(x)))
    model.compile(AveragedSGD(1.0, nonmono=1, global_clipnorm=0.25, weight_decay=1e-3), CE)
    return model


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


VALUES = [5, 4, 3, 4.5, 1]  # nonmono 1: epoch 3 switches, as 4.5 > min([5, 4])


def run(model, folder, kill=None):
    ids = np.random.default_rng(4).integers(0, V, 2 * 40)
    ds, fit_kwargs = variable_bptt_dataset(ids, B, seed=8, epochs=len(VALUES), bptt=6,
                                           bucket=None)
    valid = (ids[:2 * 8].reshape(B, 8) + 1) % V
    # As train_lm does (from its history.csv): the best value of the epochs backed up.
    record = read_backup(str(folder / "backup"))
    best_so_far = min(VALUES[:record["epoch"]]) if record else None
    callbacks = [VariableBPTT(ds), StatefulRNNCallback(), ForceLogs(VALUES), NTASGD(),
                 AtomicModelCheckpoint(str(folder / "best.keras"), monitor="val_loss",
                                       save_best_only=True, initial_value_threshold=best_so_far),
                 AtomicBackupAndRestore(str(folder / "backup"))]
    callbacks += [KillAt(kill)] if kill is not None else []
    return model.fit(ds, validation_data=(valid[:, :-1], valid[:, 1:]),
                     validation_batch_size=B, verbose=0, callbacks=callbacks, **fit_kwargs)


def test_kill_and_resume_before_and_during_averaging_is_bit_exact(tmp_path):
    straight = stateful_lm(0)
    run(straight, tmp_path / "a")

    folder = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):  # before the switch: the trigger's memory
        run(stateful_lm(0), folder, kill=2)
    with pytest.raises(KeyboardInterrupt):  # resumed (all weights from the backup), then
        run(stateful_lm(6), folder, kill=4)  # killed while averaging
    resumed = stateful_lm(9)
    history = run(resumed, folder)
    assert history.epoch == [4]
    assert resumed.optimizer.averaged_steps == straight.optimizer.averaged_steps > 0
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))
    for a, b in zip(keras.saving.load_model(tmp_path / "a" / "best.keras").get_weights(),
                    keras.saving.load_model(folder / "best.keras").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_configs_round_trip():
    optimizer = AveragedSGD(30.0, nonmono=3, global_clipnorm=0.25, weight_decay=1.2e-6)
    config = optimizer.get_config()
    assert AveragedSGD.from_config(config).get_config() == config
    assert config["nonmono"] == 3 and config["weight_decay"] == 1.2e-6
    callback = NTASGD(monitor="val_perplexity", mode="finetune")
    assert NTASGD(**callback.get_config()).get_config() == callback.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^Argument `nonmono` must be a positive integer. "
                                         r"Received: nonmono=0$"):
        AveragedSGD(1.0, nonmono=0)
    with pytest.raises(ValueError, match=r"^Argument `use_ema` must be False"):
        AveragedSGD(1.0, use_ema=True)
    with pytest.raises(ValueError, match=r"^Argument `mode` must be one of \('switch', "
                                         r"'finetune'\). Received: mode='fine'$"):
        NTASGD(mode="fine")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    with pytest.raises(ValueError, match="NTASGD needs a model compiled with AveragedSGD. "
                                         "Received: optimizer=SGD"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[NTASGD()])
    with pytest.raises(ValueError, match=r"NTASGD monitors `val_loss`, which is not in the "
                                         r"epoch logs \(keys: \['loss'\]\)"):
        dense_model(2).fit(X, Y, epochs=1, verbose=0, callbacks=[NTASGD()])


class Weights(keras.callbacks.Callback):
    """The raw (kernel, bias) after every training step."""

    def on_train_begin(self, logs=None):
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.copy() for w in self.model.get_weights()])


def test_finetune_epoch_restarts_from_the_averages_and_stops_by_the_rule():
    # n = 1. Epoch 2 switches: 5 > min([4]). Fine-tuning from epoch 4 forgets that history:
    # epoch 6 does not fire (8.5 > min([9]) is false), epoch 7 does (10 > min([9, 8])), so
    # fit stops after epoch 7 of 10.
    values = [4, 3, 5, 6, 9, 8, 8.5, 10, 1, 1]
    model = dense_model(nonmono=1)
    weights = Weights()
    history = model.fit(X, Y, batch_size=4, epochs=len(values), shuffle=False, verbose=0,
                        callbacks=[weights, ForceLogs(values), NTASGD(finetune_epoch=4)])
    assert history.history["averaged_steps"] == [0, 0, 0, 2, 2, 4, 6, 8]
    steps = weights.steps  # two steps an epoch
    # Epoch 4 trains from the average of epoch 3's two iterates: its first step is one
    # plain SGD step (lr 0.1, mse over 4 rows and 2 outputs) from that average.
    kernel, bias = (np.mean([step[i] for step in steps[6:8]], axis=0) for i in (0, 1))
    x, y = X[:4], Y[:4]
    error = x @ kernel + bias - y
    np.testing.assert_allclose(steps[8][0], kernel - 0.1 * x.T @ error * 2 / error.size,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps[8][1], bias - 0.1 * error.sum(0) * 2 / error.size,
                               rtol=1e-5, atol=1e-6)
    # fit returns the average of the fine-tuning iterates (epochs 4-7), not the raw weights.
    for i in (0, 1):
        np.testing.assert_allclose(model.get_weights()[i],
                                   np.mean([step[i] for step in steps[8:16]], axis=0),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"^Argument `finetune_epoch` needs mode='switch'"):
        NTASGD(mode="finetune", finetune_epoch=3)


def test_no_phantom_step_when_an_epoch_runs_out_of_data():
    # Every epoch of a variable-length dataset ends by running out of data. In a traced TF
    # step the ops that do not need the batch (weight decay, `iterations += 1`) would still
    # run once more: AveragedSGD ties them to the gradients. Weights after an epoch's last
    # step must be the weights at its end, and one iteration a batch.
    ids = np.arange(600) % V
    ds, fit_kwargs = variable_bptt_dataset(ids, B, seed=0, epochs=2, bptt=5)
    model = keras.Sequential([keras.Input(batch_shape=(B, None)), keras.layers.Embedding(V, 3),
                              keras.layers.Dense(V)])
    model.compile(AveragedSGD(0.1, weight_decay=0.5, global_clipnorm=1.0), CE)
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(("batch", [w.copy() for w in model.get_weights()]))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", [w.copy() for w in model.get_weights()]))

    model.fit(ds, callbacks=[VariableBPTT(ds), Watch()], verbose=0, **fit_kwargs)
    batches = sum(len(ds.plan(epoch)) for epoch in range(2))
    assert int(model.optimizer.iterations.numpy()) == batches
    for (kind, before), (next_kind, after) in zip(seen, seen[1:]):
        if next_kind == "epoch":
            for a, b in zip(before, after):
                np.testing.assert_array_equal(a, b)

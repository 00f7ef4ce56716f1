"""AtomicBackupAndRestore and AtomicModelCheckpoint as library callbacks (a tiny Dense model).

The end-to-end kills (train.py) are in tests/experiments/test_run_safety.py.
"""

import json
import os

import keras
import numpy as np
import pytest

from zoo.training import AtomicBackupAndRestore, AtomicModelCheckpoint, BackupError


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.3, seed=1),
                              keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


X = np.arange(24, dtype="float32").reshape(8, 3) / 24
Y = np.ones((8, 2), "float32")


class Stop(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


def test_resume_continues_after_the_backed_up_epoch_with_the_same_result(tmp_path):
    straight = tiny_model()
    straight.fit(X, Y, epochs=4, batch_size=4, shuffle=False, verbose=0)

    backup_dir = str(tmp_path / "backup")
    first = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, epochs=4, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[AtomicBackupAndRestore(backup_dir, settings={"a": 1}), Stop()])
    record = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert record["epoch"] == 2 and record["settings"] == {"a": 1}
    assert sorted(os.listdir(backup_dir)) == ["backup.json", "epoch-2.states.npz",
                                              "epoch-2.weights.h5"]

    second = tiny_model(seed=5)  # other initial weights: all of them come from the backup
    backup = AtomicBackupAndRestore(backup_dir, settings={"a": 1})
    history = second.fit(X, Y, epochs=4, batch_size=4, shuffle=False, verbose=0,
                         callbacks=[backup])
    assert backup.restored_epoch == 2 and history.epoch == [2, 3]
    assert int(second.optimizer.iterations.numpy()) == 8
    for a, b in zip(straight.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.path.isdir(backup_dir), "kept after fit, until delete()"
    backup.delete()
    assert not os.path.exists(backup_dir)


def test_backup_of_other_settings_or_corrupt_raises_naming_the_file(tmp_path):
    backup_dir = str(tmp_path / "backup")
    model = tiny_model()
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[AtomicBackupAndRestore(backup_dir, {"a": 1})])
    record = os.path.join(backup_dir, "backup.json")
    with pytest.raises(BackupError, match=r"other settings \(a: 1 → 2\)"):
        tiny_model().fit(X, Y, epochs=2, verbose=0,
                         callbacks=[AtomicBackupAndRestore(backup_dir, {"a": 2})])
    weights = os.path.join(backup_dir, "epoch-1.weights.h5")
    with open(weights, "r+b") as f:
        f.truncate(100)
    with pytest.raises(BackupError, match=f"backup {weights} is corrupt"):
        tiny_model().fit(X, Y, epochs=2, verbose=0,
                         callbacks=[AtomicBackupAndRestore(backup_dir, {"a": 1})])
    with open(record, "w") as f:
        f.write('{"epoch": 1, "weig')
    with pytest.raises(BackupError, match=f"backup {record} is corrupt"):
        tiny_model().fit(X, Y, epochs=2, verbose=0,
                         callbacks=[AtomicBackupAndRestore(backup_dir, {"a": 1})])


def test_ignored_settings_may_change_and_the_next_commit_stores_them(tmp_path):
    backup_dir = str(tmp_path / "backup")
    old = {"config": {"epochs": 1, "units": 2}}
    tiny_model().fit(X, Y, epochs=1, verbose=0,
                     callbacks=[AtomicBackupAndRestore(backup_dir, old)])
    new = {"config": {"epochs": 2, "units": 2}}
    backup = AtomicBackupAndRestore(backup_dir, new, ignore=("config.epochs",))
    assert AtomicBackupAndRestore(**backup.get_config()).get_config() == {
        "backup_dir": backup_dir, "settings": new, "ignore": ["config.epochs"]}
    history = tiny_model().fit(X, Y, epochs=2, verbose=0, callbacks=[backup])
    assert backup.restored_epoch == 1 and history.epoch == [1]
    record = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert record["epoch"] == 2 and record["settings"] == new
    other = {"config": {"epochs": 2, "units": 3}}
    with pytest.raises(BackupError, match=r"other settings \(units: 2 → 3\)"):
        tiny_model().fit(X, Y, epochs=3, verbose=0, callbacks=[
            AtomicBackupAndRestore(backup_dir, other, ignore=("config.epochs",))])


def test_atomic_checkpoint_saves_and_removes_a_stale_temporary(tmp_path):
    path = tmp_path / "last.keras"
    (tmp_path / ".tmp-last.keras").write_bytes(b"half a file from a killed run")
    checkpoint = AtomicModelCheckpoint(str(path), monitor="loss")
    model = tiny_model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["last.keras"]
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert AtomicModelCheckpoint(**checkpoint.get_config()).final_path == str(path)


def test_atomic_checkpoint_bad_arguments():
    with pytest.raises(ValueError, match=r"Argument `filepath` must be a fixed file name. "
                                         r"Received: filepath=run/\{epoch\}.keras"):
        AtomicModelCheckpoint("run/{epoch}.keras")
    with pytest.raises(ValueError, match="Argument `save_freq` must be 'epoch'"):
        AtomicModelCheckpoint("run/best.keras", save_freq=10)

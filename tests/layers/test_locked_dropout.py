"""Locked (variational) dropout is Keras's own `SpatialDropout1D`: pin its mask axis.

AWD-LSTM drops the same units at every timestep of a sequence (`dropouti`,
`dropouth`, `dropout`), a fresh mask per sequence: noise shape
`(batch, 1, features)`. The classic bug is a mask over `(1, time, features)`,
shared by the batch and redrawn each step.
"""

import numpy as np
import pytest

import keras
from keras import ops

B, T, F, RATE = 6, 7, 16, 0.5
X = np.random.default_rng(0).uniform(0.5, 1.5, size=(B, T, F)).astype("float32")


def check_locked(layer):
    """Asserts `layer` (a dropout) is locked dropout: one mask per sequence, all steps."""
    out = np.asarray(ops.convert_to_numpy(layer(X, training=True)))
    mask = out / X  # 0 or 1 / (1 - rate) wherever the input is nonzero
    assert np.all(np.isclose(mask, 0.0) | np.isclose(mask, 1.0 / (1.0 - RATE), rtol=1e-6))
    # Every timestep of a sequence shares its row's mask...
    np.testing.assert_array_equal(mask, np.repeat(mask[:, :1], T, axis=1))
    # ...and the rows draw their own masks.
    assert len({tuple(row) for row in mask[:, 0] > 0}) == B
    assert 0.25 < np.mean(mask == 0) < 0.75
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(X, training=False)), X)
    return out


def test_spatial_dropout_1d_is_locked_dropout():
    check_locked(keras.layers.SpatialDropout1D(RATE, seed=1))


def test_dropout_with_noise_shape_none_1_features_is_the_same_layer():
    locked = check_locked(keras.layers.Dropout(RATE, noise_shape=(None, 1, F), seed=2))
    np.testing.assert_array_equal(
        locked, ops.convert_to_numpy(keras.layers.SpatialDropout1D(RATE, seed=2)(X, training=True)))


@pytest.mark.parametrize("noise_shape", [(1, T, F), None])
def test_the_check_catches_a_mask_on_the_wrong_axes(noise_shape):
    with pytest.raises(AssertionError):
        check_locked(keras.layers.Dropout(RATE, noise_shape=noise_shape, seed=3))


def test_a_new_call_draws_new_masks():
    layer = keras.layers.SpatialDropout1D(RATE, seed=4)
    assert not np.array_equal(check_locked(layer), check_locked(layer))

import numpy as np
import pytest

import keras

from helpers.layers import run_layer_test
from zoo.layers import BigramEmbedding

V, D = 5, 3
IDS = np.array([[0, 1, 4, 4, 2], [3, 3, 0, 2, 1]], dtype="int32")


def indexed_table(layer):
    """Row r of the table holds [r, r, ...]: outputs reveal the row index."""
    layer.build(IDS.shape)
    table = np.repeat(np.arange(layer.num_rows, dtype="float32")[:, None], D, axis=1)
    layer.set_weights([table])


@pytest.mark.parametrize("mode, time", [("valid", 4), ("same", 5)])
def test_layer_contract(tmp_path, mode, time):
    run_layer_test(
        BigramEmbedding,
        dict(
            vocab_size=V,
            output_dim=D,
            mode=mode,
            embeddings_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
            embeddings_regularizer="l2",
        ),
        IDS,
        (2, time, D),
        bidirectional="follow",
        tmp_path=tmp_path,
    )


def test_valid_mode_row_is_first_plus_vocab_times_second():
    layer = BigramEmbedding(V, D)
    indexed_table(layer)
    assert layer.weights[0].shape == (V * V, D)
    rows = keras.ops.convert_to_numpy(layer(IDS))[..., 0]
    expected = [[a + V * b for a, b in zip(seq[:-1], seq[1:])] for seq in IDS.tolist()]
    np.testing.assert_array_equal(rows, np.array(expected, dtype="float32"))


def test_same_mode_first_position_uses_start_row_and_rest_equals_valid():
    same = BigramEmbedding(V, D, mode="same")
    indexed_table(same)
    assert same.weights[0].shape == (V * V + V, D)
    rows = keras.ops.convert_to_numpy(same(IDS))[..., 0]
    np.testing.assert_array_equal(rows[:, 0], V * V + IDS[:, 0])
    valid = BigramEmbedding(V, D)
    valid.build(IDS.shape)
    valid.set_weights([same.get_weights()[0][: V * V]])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(same(IDS))[:, 1:], keras.ops.convert_to_numpy(valid(IDS))
    )


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_one_hot_input_equals_ids(mode):
    layer = BigramEmbedding(V, D, mode=mode)
    one_hot = np.eye(V, dtype="float32")[IDS]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(one_hot)), keras.ops.convert_to_numpy(layer(IDS))
    )


def test_gradient_reaches_only_used_rows():
    model = keras.Sequential([keras.Input((5,), dtype="int32"), BigramEmbedding(V, D)])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(IDS, np.ones((2, 4, D)), epochs=1, verbose=0)
    changed = np.flatnonzero(np.any(model.get_weights()[0] != before, axis=1))
    used = sorted({a + V * b for seq in IDS.tolist() for a, b in zip(seq[:-1], seq[1:])})
    np.testing.assert_array_equal(changed, used)


@pytest.mark.parametrize("bad", [[[0, 5]], [[-1, 2]], [[7, 7, 7]]])
def test_out_of_range_ids_raise_eagerly(bad):
    with pytest.raises(ValueError, match=r"`inputs`.*\[0, 5\)") as info:
        BigramEmbedding(V, D)(np.array(bad))
    assert "\n" not in str(info.value)


def test_out_of_range_ids_raise_for_backend_tensors():
    with pytest.raises(ValueError, match="`inputs`"):
        BigramEmbedding(V, D)(keras.ops.convert_to_tensor(np.array([[1, 9]])))


def test_not_one_hot_raises():
    with pytest.raises(ValueError, match="one-hot"):
        BigramEmbedding(V, D)(np.full((1, 3, V), 0.2, dtype="float32"))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(vocab_size=0, output_dim=D), "vocab_size"),
        (dict(vocab_size=-2, output_dim=D), "vocab_size"),
        (dict(vocab_size=100_000, output_dim=D), "vocab_size"),
        (dict(vocab_size=V, output_dim=0), "output_dim"),
        (dict(vocab_size=V, output_dim=D, mode="full"), "mode"),
    ],
)
def test_bad_arguments_raise_one_line_value_error(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        BigramEmbedding(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4, 5), (2, 3, V + 1)])
def test_wrong_input_rank_or_width_raises(shape):
    with pytest.raises(ValueError, match="`inputs`") as info:
        BigramEmbedding(V, D)(np.zeros(shape, dtype="int32" if len(shape) < 3 else "float32"))
    assert "\n" not in str(info.value)

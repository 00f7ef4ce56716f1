import numpy as np
import pytest

import keras
from keras import ops

from helpers.layers import run_layer_test
from zoo.layers import TiedEmbedding

V, D = 7, 3
IDS = np.array([[0, 1, 6, 6, 2], [3, 3, 0, 2, 5]], dtype="int32")


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def built_layer(**kwargs):
    """A built TiedEmbedding with a random matrix and a nonzero bias."""
    layer = TiedEmbedding(V, D, **kwargs)
    layer.build(IDS.shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(V, D)).astype("float32")]
    if layer.use_output_bias:
        weights.append(rng.normal(size=(V,)).astype("float32"))
    layer.set_weights(weights)
    return layer, weights


def test_layer_contract(tmp_path):
    # The contract's model only calls the layer forward (the bias would get no
    # gradient); the test below trains and saves a model using both directions.
    run_layer_test(
        TiedEmbedding,
        dict(
            input_dim=V,
            output_dim=D,
            embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
            use_output_bias=False,
            output_bias_initializer="ones",
            mask_zero=False,
        ),
        IDS,
        (2, 5, D),
        bidirectional="follow",
        tmp_path=tmp_path,
    )


def test_forward_looks_up_rows_and_reverse_is_tied_matmul_plus_bias():
    layer, (table, bias) = built_layer()
    np.testing.assert_array_equal(_numpy(layer(IDS)), table[IDS])
    x = np.random.default_rng(1).normal(size=(2, 5, D)).astype("float32")
    expected = np.einsum("btd,vd->btv", x.astype(np.float64), table) + bias
    np.testing.assert_allclose(_numpy(layer(x, reverse=True)), expected, atol=1e-5)
    # One matrix both ways, one bias of vocabulary size.
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(V, D), (V,)]


def test_bias_starts_at_zero_and_can_be_left_out():
    layer = TiedEmbedding(V, D)
    layer.build()
    np.testing.assert_array_equal(_numpy(layer.output_bias), np.zeros(V))
    plain, (table,) = built_layer(use_output_bias=False)
    assert len(plain.weights) == 1
    x = np.ones((1, D), "float32")
    np.testing.assert_allclose(_numpy(plain(x, reverse=True)), x @ table.T, atol=1e-6)
    assert "output_bias" not in [w.name for w in plain.weights]


def test_model_using_both_directions_round_trips_through_keras_file(tmp_path):
    ids = keras.Input((5,), dtype="int32")
    embedding = TiedEmbedding(V, D, name="tied")
    hidden = keras.layers.Dense(D, activation="tanh")(embedding(ids))
    model = keras.Model(ids, embedding(hidden, reverse=True))
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(IDS, np.roll(IDS, -1, axis=1), epochs=1, verbose=0)
    bias = _numpy(model.get_layer("tied").output_bias)
    assert np.any(bias != 0), "fit must train the output bias"
    model.save(tmp_path / "tied.keras")
    loaded = keras.saving.load_model(tmp_path / "tied.keras")
    np.testing.assert_array_equal(_numpy(loaded.get_layer("tied").output_bias), bias)
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0),
                               atol=1e-6)
    assert len(loaded.get_layer("tied").weights) == 2


def test_gradient_of_the_shared_matrix_adds_both_uses():
    """d/dE of sum(w * logits(E[ids])) = both the lookup's and the projection's share."""
    layer, (table, bias) = built_layer()
    ids = np.array([[1, 4]], dtype="int32")
    w = np.random.default_rng(2).normal(size=(1, 2, V)).astype("float32")
    inputs = keras.Input((2,), dtype="int32")
    model = keras.Model(inputs, layer(layer(inputs), reverse=True))
    model.compile(optimizer=keras.optimizers.SGD(1.0),
                  loss=lambda y, logits: ops.sum(y * logits))
    model.train_on_batch(ids, w)
    # numpy: logits[t] = E[ids[t]] @ E^T + b, loss = sum_t w[t] . logits[t]
    grad = np.zeros_like(table, dtype=np.float64)
    for t, i in enumerate(ids[0]):
        grad += np.outer(w[0, t], table[i])  # through the projection: rows v get w[t, v] * E[i]
        grad[i] += w[0, t] @ table  # through the lookup: row i gets sum_v w[t, v] E[v]
    np.testing.assert_allclose(_numpy(layer.embeddings), table - grad, atol=1e-4)
    np.testing.assert_allclose(_numpy(layer.output_bias), bias - w[0].sum(0), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_dim=0, output_dim=D),
         "Argument `input_dim` must be a positive integer. Received: input_dim=0"),
        (dict(input_dim=V, output_dim=2.5),
         "Argument `output_dim` must be a positive integer. Received: output_dim=2.5"),
        (dict(input_dim=V, output_dim=D, use_output_bias=1),
         "Argument `use_output_bias` must be a bool. Received: use_output_bias=1"),
        (dict(input_dim=V, output_dim=D, tie_weights=False),
         "Argument `tie_weights` of TiedEmbedding must be True (use "
         "keras.layers.ReversibleEmbedding for untied weights). Received: tie_weights=False"),
    ],
)
def test_bad_arguments_raise_in_keras_wording(kwargs, message):
    with pytest.raises(ValueError) as info:
        TiedEmbedding(**kwargs)
    assert str(info.value) == message

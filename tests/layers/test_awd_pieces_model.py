"""The AWD-LSTM pieces in one tiny functional model: a fit step and a `.keras` round trip.

ids -> TiedEmbedding -> EmbeddingDropout -> SpatialDropout1D -> LSTM ->
SpatialDropout1D -> ActivationRegularization -> TiedEmbedding(reverse=True).
"""

import numpy as np

import keras
from keras import ops

from zoo.layers import ActivationRegularization
from zoo.layers import EmbeddingDropout
from zoo.layers import TiedEmbedding

V, D, B, T = 12, 4, 3, 6
IDS = np.random.default_rng(0).integers(0, V, size=(B, T + 1)).astype("int32")
X, Y = IDS[:, :-1], IDS[:, 1:]


def build_model():
    ids = keras.Input((T,), dtype="int32")
    embedding = TiedEmbedding(
        V, D, embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1), name="tied")
    x = EmbeddingDropout(V, 0.1, seed=1, name="drop_words")((ids, embedding(ids)))
    x = keras.layers.SpatialDropout1D(0.4, seed=2)(x)
    raw = keras.layers.LSTM(D, return_sequences=True, name="lstm")(x)
    dropped = keras.layers.SpatialDropout1D(0.4, seed=3)(raw)
    dropped = ActivationRegularization(alpha=2.0, beta=1.0, name="ar_tar")((raw, dropped))
    logits = embedding(dropped, reverse=True)
    model = keras.Model(ids, logits)
    model.compile(optimizer=keras.optimizers.SGD(1.0, global_clipnorm=0.25),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_word_dropout_state_is_a_model_variable_outside_the_weights():
    """Like Keras's Dropout: `.keras`/`save_weights` leave it out, and the zoo's
    run backup (`zoo.training.AtomicBackupAndRestore`) saves exactly such variables."""
    model = build_model()
    state = model.get_layer("drop_words").seed_generator.state
    assert any(v is state for v in model.variables)
    assert not any(v is state for v in model.weights)
    start = np.array(ops.convert_to_numpy(state))
    model.fit(X, Y, batch_size=B, epochs=1, verbose=0)
    assert not np.array_equal(ops.convert_to_numpy(state), start), "fit advances the state"


def test_one_fit_step_trains_every_weight_and_the_model_round_trips(tmp_path):
    model = build_model()
    # One embedding matrix, one output bias, the LSTM's three weights.
    assert len(model.trainable_weights) == 5
    before = [np.array(ops.convert_to_numpy(w)) for w in model.trainable_weights]
    history = model.fit(X, Y, batch_size=B, epochs=1, verbose=0)
    after = [np.array(ops.convert_to_numpy(w)) for w in model.trainable_weights]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    # Embeddings of U(-0.1, 0.1) and a zero bias give nearly uniform logits.
    evaluated = model.evaluate(X, Y, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(evaluated)
    np.testing.assert_allclose(evaluated, np.log(V), atol=0.1)

    expected = model.predict(X, verbose=0)
    model.save(tmp_path / "awd.keras")
    loaded = keras.saving.load_model(tmp_path / "awd.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), expected, atol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers]
    assert loaded.get_layer("drop_words").get_config() == model.get_layer(
        "drop_words").get_config()
    loaded.compile(optimizer="sgd", loss=model.loss)
    assert np.isfinite(loaded.train_on_batch(X, Y))

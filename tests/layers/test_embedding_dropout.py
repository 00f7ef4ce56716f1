import numpy as np
import pytest

import keras
from keras import ops

from zoo.layers import EmbeddingDropout
from zoo.layers import TiedEmbedding

V, D, P = 11, 4, 0.5
# Every word occurs at least twice, in both rows and at several times.
IDS = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0],
                [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 5]], dtype="int32")
TABLE = np.random.default_rng(0).uniform(0.5, 1.5, size=(V, D)).astype("float32")


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def recovered_mask(out):
    """The per-word keep mask (0 or 1) read back from one output of TABLE[IDS]."""
    kept = np.any(out != 0, axis=-1)
    mask = np.full(V, -1.0)
    for word, keep in zip(IDS.ravel(), kept.ravel()):
        mask[word] = max(mask[word], float(keep))
    assert np.all(mask >= 0), "every word occurs in IDS"
    return mask


def test_training_output_equals_a_lookup_in_the_row_dropped_matrix():
    layer = EmbeddingDropout(V, P, seed=1)
    out = _numpy(layer((IDS, TABLE[IDS]), training=True))
    mask = recovered_mask(out)
    assert 0 < mask.sum() < V, mask  # seed 1 drops some words and keeps others
    # The reference: drop rows of the matrix, scale the kept ones, look up.
    dropped_table = TABLE * mask[:, None] / (1.0 - P)
    np.testing.assert_allclose(out, dropped_table[IDS], rtol=1e-6)


def test_every_occurrence_of_a_word_is_dropped_together():
    layer = EmbeddingDropout(V, P, seed=2)
    out = _numpy(layer((IDS, TABLE[IDS]), training=True))
    zero = np.all(out == 0, axis=-1)
    for word in range(V):
        at_word = zero[IDS == word]
        assert at_word.all() or not at_word.any(), (word, at_word)


def test_two_calls_draw_different_masks_and_a_seed_repeats_them():
    layer, twin = EmbeddingDropout(V, P, seed=3), EmbeddingDropout(V, P, seed=3)
    first, second = (recovered_mask(_numpy(layer((IDS, TABLE[IDS]), training=True)))
                     for _ in range(2))
    assert not np.array_equal(first, second)
    again = [recovered_mask(_numpy(twin((IDS, TABLE[IDS]), training=True))) for _ in range(2)]
    np.testing.assert_array_equal(again, [first, second])
    # The generator's state is a (non-trainable) variable: saved with the model.
    (state,) = layer.non_trainable_variables
    assert state is layer.seed_generator.state


@pytest.mark.parametrize("rate, training", [(0.0, True), (P, False), (P, None)])
def test_no_rate_or_no_training_is_the_identity(rate, training):
    embedded = TABLE[IDS]
    out = EmbeddingDropout(V, rate, seed=0)((IDS, embedded), training=training)
    np.testing.assert_array_equal(_numpy(out), embedded)


def test_fraction_of_words_dropped_is_the_rate():
    vocab, rate = 20_000, 0.3
    ids = np.arange(vocab, dtype="int32")[None]
    out = _numpy(EmbeddingDropout(vocab, rate, seed=4)((ids, np.ones((1, vocab, 1), "float32")),
                                                       training=True))
    # Binomial(20000, 0.3): standard deviation of the fraction 0.0032.
    assert abs(np.mean(out == 0) - rate) < 0.02
    np.testing.assert_allclose(out[out != 0], 1.0 / (1.0 - rate), rtol=1e-6)


def test_embedding_weights_are_never_touched_and_the_tied_output_sees_them_whole():
    embedding = TiedEmbedding(V, D)
    drop = EmbeddingDropout(V, 0.9, seed=5)
    embedding.build()
    embedding.set_weights([TABLE, np.zeros(V, "float32")])
    for _ in range(3):
        drop((IDS, embedding(IDS)), training=True)
    np.testing.assert_array_equal(_numpy(embedding.embeddings), TABLE)
    x = np.ones((1, D), "float32")
    np.testing.assert_allclose(_numpy(embedding(x, reverse=True)), x @ TABLE.T, rtol=1e-6)


def test_gradient_reaches_only_kept_words_in_fit():
    """One SGD step in `fit`: rows of dropped words get no gradient, kept rows do."""
    ids = keras.Input((IDS.shape[1],), dtype="int32")
    embedding = keras.layers.Embedding(V, D, name="embedding")
    drop = EmbeddingDropout(V, P, seed=6, name="drop")
    model = keras.Model(ids, drop((ids, embedding(ids))))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    embedding.set_weights([TABLE])
    model.fit(IDS, np.zeros(IDS.shape + (D,), "float32"), batch_size=2, epochs=1, verbose=0)
    changed = np.any(_numpy(embedding.embeddings) != TABLE, axis=1)
    # A twin with the same seed draws the mask of that step again.
    twin = EmbeddingDropout(V, P, seed=6)
    kept = recovered_mask(_numpy(twin((IDS, TABLE[IDS]), training=True)))
    assert 0 < kept.sum() < V, kept  # seed 6 keeps some words and drops others
    np.testing.assert_array_equal(changed, kept.astype(bool))


def test_config_and_serialization_round_trip():
    layer = EmbeddingDropout(V, 0.25, seed=9, name="words")
    config = layer.get_config()
    assert {k: config[k] for k in ("input_dim", "rate", "seed")} == dict(
        input_dim=V, rate=0.25, seed=9)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is EmbeddingDropout and revived.get_config() == config


def test_symbolic_shape_and_mask_pass_through():
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(V, D, mask_zero=True)(ids)
    out = EmbeddingDropout(V, P)((ids, embedded))
    assert tuple(out.shape) == (None, None, D)
    model = keras.Model(ids, out)
    layer = model.layers[-1]
    assert layer.compute_output_shape(((2, 5), (2, 5, D))) == (2, 5, D)
    mask = layer.compute_mask((IDS, TABLE[IDS]), [None, ops.not_equal(IDS, 0)])
    np.testing.assert_array_equal(_numpy(mask), IDS != 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_dim=0, rate=P), "Argument `input_dim` must be a positive integer. "
                                    "Received: input_dim=0"),
        (dict(input_dim=V, rate=1.0), "Argument `rate` must be a float in [0, 1). "
                                      "Received: rate=1.0"),
        (dict(input_dim=V, rate=-0.1), "Argument `rate` must be a float in [0, 1). "
                                       "Received: rate=-0.1"),
        (dict(input_dim=V, rate=P, seed=-1), "Argument `seed` must be an integer >= 0. "
                                             "Received: seed=-1"),
    ],
)
def test_bad_arguments_raise_in_keras_wording(kwargs, message):
    with pytest.raises(ValueError) as info:
        EmbeddingDropout(**kwargs)
    assert str(info.value) == message


def test_inputs_must_be_ids_and_their_embedding():
    with pytest.raises(ValueError, match=r"^Argument `inputs` of EmbeddingDropout must be "
                                         r"\(ids, embedded\) with embedded.shape"):
        EmbeddingDropout(V, P)((IDS, TABLE[IDS][..., 0]))

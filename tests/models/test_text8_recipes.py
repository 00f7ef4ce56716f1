"""The text8 presets are the notebook as it ran (issue 19 §2, §4): its initialisers, its
update counts, the bigram run's batches, dropout and schedule."""

import numpy as np
import pytest
from scipy import stats

from zoo.datasets import text8_pipeline
from zoo.models.configs import get_config
from zoo.models.lm import build_lm
from zoo.models.lstm_weights import get_lstm_weights
from zoo.training.recipe import fit_kwargs


def _truncated_normal_moments(mean, stddev):
    """`tf.truncated_normal(shape, mean, stddev)`: redrawn outside mean ± 2 stddev."""
    dist = stats.truncnorm(-2, 2, loc=mean, scale=stddev)
    return dist.mean(), dist.std(), mean - 2 * stddev, mean + 2 * stddev


def _check_sample(x, mean, std, low, high):
    x = np.ravel(x).astype("float64")
    se = std / np.sqrt(x.size)
    assert abs(x.mean() - mean) < 5 * se
    assert abs(x.std() - std) < 0.03 * std
    assert low - 1e-6 <= x.min() and x.max() <= high + 1e-6
    # the bounds are reached, not narrower: within 3% of the range at each end
    assert x.min() < low + 0.03 * (high - low) and x.max() > high - 0.03 * (high - low)


@pytest.mark.parametrize("name", ["text8-char", "text8-embed", "text8-bigram"])
def test_text8_presets_draw_the_notebooks_truncated_normal(name):
    mean, std, low, high = _truncated_normal_moments(-0.1, 0.1)
    assert (mean, std, low, high) == pytest.approx((-0.1, 0.0880, -0.3, 0.1), abs=5e-5)
    model = build_lm(get_config(name), batch_size=2, seed=3)
    kernel, recurrent, bias = get_lstm_weights(model.get_layer("lstm_0"))
    _check_sample(np.concatenate([kernel.ravel(), recurrent.ravel()]), mean, std, low, high)
    np.testing.assert_array_equal(bias, 0.0)
    softmax_kernel, softmax_bias = model.get_layer("softmax").get_weights()
    _check_sample(softmax_kernel, mean, std, low, high)
    np.testing.assert_array_equal(softmax_bias, 0.0)


@pytest.mark.parametrize("name, layer", [("text8-embed", "embedding"),
                                         ("text8-bigram", "bigram_embedding")])
def test_embedded_presets_draw_embeddings_uniform_one(name, layer):
    model = build_lm(get_config(name), batch_size=2, seed=3)
    (table,) = model.get_layer(layer).get_weights()
    _check_sample(table, 0.0, 1 / np.sqrt(3), -1.0, 1.0)  # uniform(-1, 1)


def test_uniform_weights_are_a_documented_option_and_the_ptb_default():
    config = get_config("text8-char", weight_init="uniform")
    model = build_lm(config, batch_size=2, seed=3)
    kernel, recurrent, _ = get_lstm_weights(model.get_layer("lstm_0"))
    _check_sample(np.concatenate([kernel.ravel(), recurrent.ravel()]), 0.0, 0.1 / np.sqrt(3),
                  -0.1, 0.1)
    assert get_config("ptb-small").weight_init == "uniform"
    assert "weight_init" not in get_config("ptb-small").to_dict()  # old runs' settings stay


def test_text8_presets_run_the_notebooks_updates_and_report():
    for name, steps, decay in (("text8-char", 7001, 5000), ("text8-embed", 7001, 5000),
                               ("text8-bigram", 21001, 15000)):
        config = get_config(name)
        assert (config.train_steps, config.decay_steps, config.summary_frequency) == (
            steps, decay, 100)
        kwargs = fit_kwargs(config)
        assert kwargs["epochs"] * kwargs["steps_per_epoch"] >= steps
        assert (kwargs["epochs"] - 1) * kwargs["steps_per_epoch"] < steps
    bigram = get_config("text8-bigram")
    assert (bigram.keep_prob, bigram.num_steps, bigram.batch_stride, bigram.valid_stride,
            bigram.batch_size) == (1.0, 9, 10, 2, 64)
    model = build_lm(bigram, batch_size=2)
    assert not [layer for layer in model.layers if "dropout" in layer.name]


def test_bigram_batches_are_the_notebooks_eleven_characters_advancing_ten():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 27, 400)
    B, U = 3, 10
    ds = text8_pipeline.text8_dataset(ids, B, num_unrollings=U - 1, bigram=True, steps=5, stride=U)
    gen = text8_pipeline.BatchGenerator(ids, B, U)  # the notebook's generator: 11 steps a call
    for x, y in ds.as_numpy_iterator():
        chars = np.argmax(np.stack(gen.next(), axis=1), axis=-1)  # (B, 11)
        np.testing.assert_array_equal(x, chars[:, :10])  # 10 characters: 9 pairs
        np.testing.assert_array_equal(y, chars[:, 2:])  # each pair's next character
    assert (text8_pipeline.char_epoch_size(400, B, U - 1, bigram=True, stride=U)
            == (400 // B - 11) // U + 1)

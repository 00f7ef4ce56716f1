"""The PTB recipes' initial variables, against the TensorFlow PTB tutorial's.

The tutorial builds its model inside `tf.variable_scope("Model", initializer=
tf.random_uniform_initializer(-init_scale, init_scale))`, so every variable created
without its own initializer -- embedding, LSTM kernel, softmax_w and softmax_b -- is drawn
uniform in ±init_scale; its LSTM cells (BasicLSTMCell, LSTMBlockCell) start their biases at
zero. The text8 notebook starts its softmax bias with `tf.zeros`.
"""

import numpy as np
import pytest

from zoo.models import build_lm, get_config
from zoo.models.lstm_weights import get_lstm_weights

VOCAB = 3000
PTB_RECIPES = ["ptb-small", "ptb-medium", "ptb-large", "ptb-test", "ptb-notebook",
               "synthetic-small"]


def build(name, seed, **overrides):
    config = get_config(name, hidden_size=4, **overrides)
    return config, build_lm(config, vocab_size=VOCAB, batch_size=2, num_steps=3, seed=seed)


def softmax(model):
    return [w.numpy() for w in model.get_layer("softmax").weights]  # kernel, bias


@pytest.mark.parametrize("name", PTB_RECIPES)
def test_ptb_softmax_bias_is_uniform_in_init_scale(name):
    config, model = build(name, seed=3)
    s = config.init_scale
    kernel, bias = softmax(model)
    assert config.softmax_bias_init == "uniform"
    assert bias.shape == (VOCAB,)
    assert np.all(np.abs(bias) <= s)
    assert len(np.unique(bias)) > VOCAB * 0.99  # non-constant: (almost) all distinct
    # Moments of uniform(-s, s): mean 0, std s / sqrt(3), from 3,000 draws.
    assert abs(bias.mean()) < 0.05 * s
    assert bias.std() == pytest.approx(s / np.sqrt(3), rel=0.05)
    assert bias.min() < -0.95 * s and bias.max() > 0.95 * s
    assert not np.allclose(bias, kernel[0])  # its own draw, not a copy of a kernel row
    # The other variables, as the tutorial: embedding and kernels uniform, LSTM biases zero.
    embedding = model.get_layer("embedding").weights[0].numpy()
    for w in (embedding, kernel):
        assert np.all(np.abs(w) <= s) and w.std() == pytest.approx(s / np.sqrt(3), rel=0.1)
    for i in range(config.num_layers):
        lstm_kernel, lstm_recurrent, lstm_bias = get_lstm_weights(model.get_layer(f"lstm_{i}"))
        assert np.all(np.abs(lstm_kernel) <= s) and np.all(np.abs(lstm_recurrent) <= s)
        assert lstm_kernel.std() > 0.5 * s / np.sqrt(3)
        np.testing.assert_array_equal(lstm_bias, 0.0)


def test_ptb_softmax_bias_is_deterministic_by_seed():
    _, a = build("ptb-small", seed=5)
    _, b = build("ptb-small", seed=5)
    _, c = build("ptb-small", seed=6)
    for cell in ("gate", "keras"):  # the bias does not depend on the LSTM kind
        _, other = build("ptb-small", seed=5, cell=cell)
        np.testing.assert_array_equal(softmax(other)[1], softmax(a)[1])
    np.testing.assert_array_equal(softmax(a)[1], softmax(b)[1])
    assert not np.allclose(softmax(a)[1], softmax(c)[1])


def test_text8_softmax_bias_starts_at_zero():
    config = get_config("text8-char")
    assert config.softmax_bias_init == "zeros"
    model = build_lm(config, batch_size=2, num_steps=3, seed=0)
    np.testing.assert_array_equal(softmax(model)[1], 0.0)
    zeroed = build("ptb-small", seed=3, softmax_bias_init="zeros")[1]
    np.testing.assert_array_equal(softmax(zeroed)[1], 0.0)
    # The bias's draw comes after the kernel's: the kernel is the same with either bias.
    np.testing.assert_array_equal(softmax(zeroed)[0], softmax(build("ptb-small", seed=3)[1])[0])


def test_softmax_bias_init_is_validated():
    with pytest.raises(ValueError, match=r"`softmax_bias_init` must be one of \('zeros', "
                                         r"'uniform'\)\. Received: softmax_bias_init='normal'"):
        get_config("ptb-small", softmax_bias_init="normal")

"""README "Python API": its one code block runs as written and reports the right perplexity."""

import math
import re

import numpy as np
import pytest
from keras import ops

from helpers import ROOT
from zoo.training import reset_rnn_states

BLOCK = re.compile(r"<!-- python-api -->\n```python\n(.*?)```\n<!-- /python-api -->", re.S)


def readme_api_block():
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "README.md needs one python block between the python-api markers"
    return blocks[0]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The block's variables after running it (its corpus goes to a temporary Keras cache)."""
    namespace = {"__name__": "readme_python_api"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
        exec(compile(readme_api_block(), "README.md (python-api)", "exec"), namespace)
    return namespace


def test_perplexity_is_finite_and_beats_a_uniform_guess(api):
    perplexity = api["perplexity"]
    assert math.isfinite(perplexity)
    assert 1.0 < perplexity < len(api["data"].vocab)


def test_perplexity_is_exp_of_the_mean_cross_entropy_from_zero_states(api):
    # Independent of Keras's metric and of evaluate: the model's logits on the test batches in
    # order, states zeroed before the first and carried from batch to batch, scored with numpy.
    model = api["model"]
    reset_rnn_states(model)
    nll = []
    for x, y in api["test"].as_numpy_iterator():
        logits = np.asarray(ops.convert_to_numpy(model.predict_on_batch(x)), dtype=np.float64)
        top = logits.max(axis=-1, keepdims=True)
        log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
        nll.append(log_z - np.take_along_axis(logits, y[..., None], axis=-1)[..., 0])
    expected = math.exp(np.concatenate(nll).mean())
    np.testing.assert_allclose(api["perplexity"], expected, rtol=1e-5)


def test_last_epoch_trained_at_the_recipes_decayed_rate(api):
    # The PTB tutorial's decay: lr * lr_decay ** max(i + 1 - max_epoch, 0) in epoch i (0-based).
    config = api["config"]
    assert config.max_max_epoch > config.max_epoch  # the block shows a decayed epoch
    decayed = config.learning_rate * config.lr_decay ** (config.max_max_epoch - config.max_epoch)
    lr = float(ops.convert_to_numpy(api["model"].optimizer.learning_rate))
    assert lr == pytest.approx(decayed)
    assert lr < config.learning_rate


AWD_BLOCK = re.compile(r"<!-- python-api-awd -->\n```python\n(.*?)```\n<!-- /python-api-awd -->",
                       re.S)


def test_the_awd_pieces_example_builds_the_awd_model_and_trains():
    """README "AWD-LSTM": the block builds; at inference it is the tied LSTM stack with the
    decoder's bias, recomputed in numpy; it takes a training step."""
    from helpers.layers import numpy_lstm

    [block] = AWD_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    namespace = {"__name__": "readme_awd"}
    exec(compile(block, "README.md (python-api-awd)", "exec"), namespace)
    model = namespace["model"]
    ids = np.random.default_rng(0).integers(0, namespace["vocab"], (2, 70))
    logits = ops.convert_to_numpy(model(ids, training=False))
    embedding = model.layers[1]
    table = ops.convert_to_numpy(embedding.embeddings)
    x = table[ids[:, :6]]  # the first steps: a causal LSTM's outputs there need only them
    for lstm in [layer for layer in model.layers if "lstm" in layer.name]:
        x, _, _ = numpy_lstm(x, *lstm.get_weights())
    bias = ops.convert_to_numpy(embedding.output_bias)
    np.testing.assert_allclose(logits[:, :6], x @ table.T + bias, atol=1e-4)
    loss = model.train_on_batch(ids, ids)
    assert math.isfinite(float(np.ravel(loss)[0]))

"""The text8 notebook's report during fit (issue 19 §3): its validation perplexity, its
summaries, its samples and its 7,001st update, each against numpy."""

import keras
import numpy as np
import pytest

from zoo.models.configs import get_config
from zoo.models.lm import build_lm
from zoo.models.lm import compile_lm
from zoo.models.lm import copy_to_batch
from zoo.models.lstm_weights import get_lstm_weights
from zoo.training import NotebookValidation
from zoo.training import SampleText
from zoo.training import StepSummary
from zoo.training import StopAtStep
from zoo.training import notebook_perplexity

V = 27


def _batches(pairs):
    """A generator of (x, y) batches, which `fit` reads in order."""
    yield from ((np.asarray(x, "int32"), np.asarray(y, "int32")) for x, y in pairs)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numpy_char_lm(model):
    """The one-hot char model written out in numpy: one LSTM step per character."""
    kernel, recurrent, bias = (w.astype("float64") for w in
                               get_lstm_weights(model.get_layer("lstm_0")))
    w, b = (x.astype("float64") for x in model.get_layer("softmax").get_weights())
    u = recurrent.shape[0]
    state = {"h": np.zeros(u), "c": np.zeros(u)}

    def step(char):
        z = kernel[char] + state["h"] @ recurrent + bias  # one-hot input selects a row
        i, f, g, o = (z[k * u:(k + 1) * u] for k in range(4))
        state["c"] = _sigmoid(f) * state["c"] + _sigmoid(i) * np.tanh(g)
        state["h"] = _sigmoid(o) * np.tanh(state["c"])
        logits = state["h"] @ w + b
        p = np.exp(logits - logits.max())
        return p / p.sum()

    return step


def _char_model(seed=0, **overrides):
    config = get_config("text8-char", hidden_size=8, batch_size=2, num_steps=4, **overrides)
    return build_lm(config, seed=seed), config


def test_notebook_perplexity_is_the_notebooks_loop_with_the_wrapping_target():
    model, _ = _char_model()
    ids = np.random.default_rng(1).integers(0, V, 40)
    step = _numpy_char_lm(model)
    # The notebook: valid_batches = BatchGenerator(valid_text, 1, 1); for each of valid_size
    # calls, predict from b[0] and score b[1]; the last b[1] is the first character again.
    logprob = 0.0
    for k in range(len(ids)):
        p = step(ids[k])
        logprob += -np.log(max(p[ids[(k + 1) % len(ids)]], 1e-10))
    expected = np.exp(logprob / len(ids))
    assert notebook_perplexity(model, ids, num_predictions=len(ids)) == pytest.approx(
        expected, rel=1e-5)
    # Not the old 50-token chunks without the wrap.
    step = _numpy_char_lm(model)
    no_wrap = np.exp(np.mean([-np.log(step(ids[k])[ids[k + 1]]) for k in range(len(ids) - 1)]))
    assert abs(no_wrap - expected) > 1e-4


def test_bigram_every_other_pair_against_a_one_step_model():
    config = get_config("text8-bigram", hidden_size=8, embedding_size=5, batch_size=2)
    model = build_lm(config, seed=2)
    ids = np.random.default_rng(3).integers(0, V, 20)
    step = copy_to_batch(model, config, V, batch_size=1, num_steps=1)  # reads one pair
    losses = []
    for k in range(20):  # 20 predictions, 2 apart: twice around the text, the state running on
        pair = np.array([[ids[2 * k % 20], ids[(2 * k + 1) % 20]]], "int32")
        logits = np.asarray(step.predict_on_batch(pair), "float64")[0, -1]
        p = np.exp(logits - logits.max())
        losses.append(-np.log((p / p.sum())[ids[(2 * k + 2) % 20]]))
    assert notebook_perplexity(model, ids, num_predictions=20, stride=2) == pytest.approx(
        np.exp(np.mean(losses)), rel=1e-5)


class _Recorder(keras.callbacks.Callback):
    """Weights before each step and the learning rate, to recompute the losses in numpy."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def _bag_model(lr):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(V, 4),
                              keras.layers.Dense(V)])
    from zoo.training import Perplexity

    model.compile(keras.optimizers.SGD(lr), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=[Perplexity(from_logits=True, name="perplexity")])
    return model


def test_step_summary_prints_the_notebooks_average_loss_and_minibatch_perplexity(capsys):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (6, 2, 3)), rng.integers(0, V, (6, 2, 3))
    model = _bag_model(0.5)
    summary, recorder = StepSummary(every_n_steps=2), _Recorder()
    ds = [(x[k], y[k]) for k in range(6)]
    model.fit(_batches(ds * 2), steps_per_epoch=3, epochs=2, verbose=2,
              callbacks=[recorder, summary])

    def batch_loss(k):  # step k's cross-entropy, from the weights before it
        emb, kernel, bias = recorder.weights[k]
        logits = emb[x[k]] @ kernel + bias
        logits = logits - logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -np.take_along_axis(logp, y[k][..., None], -1).mean()

    losses = [batch_loss(k) for k in range(6)]
    # The notebook: step 0's own loss, then the mean of the summary_frequency steps before.
    expected = [(0, losses[0]), (2, np.mean(losses[1:3])), (4, np.mean(losses[3:5]))]
    assert [h["step"] for h in summary.history] == [0, 2, 4]
    for h, (_, loss), k in zip(summary.history, expected, (0, 2, 4)):
        assert h["loss"] == pytest.approx(loss, rel=1e-4)
        assert h["minibatch_perplexity"] == pytest.approx(np.exp(losses[k]), rel=1e-4)
        assert h["learning_rate"] == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert f"Average loss at step 4: {summary.history[2]['loss']:f} learning rate: 0.500000" in out
    assert f"Minibatch perplexity: {summary.history[2]['minibatch_perplexity']:.2f}" in out


def test_validation_and_stop_in_fit_give_the_notebooks_steps(capsys):
    model, config = _char_model()
    compile_lm(model, config)
    ids = np.random.default_rng(4).integers(0, V, 200)
    valid = np.random.default_rng(5).integers(0, V, 30)
    x = np.stack([ids[0:40], ids[40:80]]).reshape(2, 10, 4).transpose(1, 0, 2)
    y = np.stack([ids[1:41], ids[41:81]]).reshape(2, 10, 4).transpose(1, 0, 2)
    validation = NotebookValidation(valid, every_n_steps=2, num_predictions=30)
    history = model.fit(_batches(list(zip(x, y))), steps_per_epoch=3, epochs=3, verbose=0,
                        callbacks=[StopAtStep(7), validation])
    # 7 updates: 3 + 3 + 1, as the notebook's 7,001 are 7 x 1,000 + 1
    assert int(model.optimizer.iterations.numpy()) == 7
    assert [s for s, _ in validation.history] == [0, 2, 4, 6]
    assert history.history["val_perplexity"][-1] == pytest.approx(
        validation.history[-1][1], rel=1e-6)
    # the last figure is the notebook's loop on the final weights
    step = _numpy_char_lm(model)
    logprob = [-np.log(step(valid[k])[valid[(k + 1) % 30]]) for k in range(30)]
    assert validation.history[-1][1] == pytest.approx(np.exp(np.mean(logprob)), rel=1e-5)
    assert capsys.readouterr().out == ""  # verbose=0 prints nothing


def test_sample_text_prints_samples_of_any_language_model(capsys):
    model, config = _char_model(seed=1)
    compile_lm(model, config)
    vocab = [" "] + [chr(ord("a") + i) for i in range(26)]
    sampler = SampleText(every_n_steps=2, num_samples=3, length=12, temperature=0,
                         decode=lambda ids: "".join(vocab[i] for i in ids), seed=0)
    x = np.random.default_rng(0).integers(0, V, (3, 2, 4))
    model.fit(_batches(list(zip(x, x))), steps_per_epoch=3, epochs=1, verbose=2,
              callbacks=[sampler])
    assert [s for s, _ in sampler.samples] == [0, 2]
    out = capsys.readouterr().out
    for text in sampler.samples[-1][1]:
        assert len(text) == 12 and text in out
        # greedy continuation of its random first character, in numpy
        step = _numpy_char_lm(model)
        expected, p = text[0], step(vocab.index(text[0]))
        for _ in range(11):
            expected += vocab[int(np.argmax(p))]
            p = step(vocab.index(expected[-1]))
        assert text == expected
    assert "=" * 80 in out

    # a PTB word model too: words joined by spaces
    word = get_config("ptb-test", batch_size=2, vocab_size=30)
    wmodel = build_lm(word, seed=0)
    compile_lm(wmodel, word)
    words = SampleText(every_n_steps=1, num_samples=2, length=5, seed=1,
                       decode=lambda ids: " ".join(f"w{i}" for i in ids))
    wx = np.random.default_rng(1).integers(0, 30, (1, 2, 2))
    wmodel.fit(_batches(list(zip(wx, wx))), steps_per_epoch=1, epochs=1, verbose=0,
               callbacks=[words])
    ((_, texts),) = words.samples
    assert [len(t.split()) for t in texts] == [5, 5]
    assert SampleText(**words.get_config()).get_config() == words.get_config()

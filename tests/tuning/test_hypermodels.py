"""LMHyperModel: search-space validation, config mapping, build and the per-trial fit."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from zoo.models.configs import get_config
from zoo.tuning import LMHyperModel, default_space, hypermodel_for, normalize_space
from zoo.tuning.space import parse_space_value

WORD = get_config("synthetic-small", batch_size=2, num_steps=3, max_max_epoch=1, max_epoch=1)


def test_space_normalized_to_ranges_choices_and_fixed():
    space = normalize_space({"hidden_size": {"min": 8, "max": 64.0, "sampling": "log"},
                             "num_layers": [1, 2, 2], "keep_prob": 0.5, "cell": ["gate"]}, WORD)
    assert space == {"hidden_size": {"min": 8, "max": 64, "sampling": "log"},
                     "num_layers": [1, 2], "keep_prob": 0.5, "cell": ["gate"]}
    assert isinstance(space["hidden_size"]["max"], int)


@pytest.mark.parametrize("space, message", [
    ({}, "Argument `space` must be a search space with at least one hyperparameter"),
    ({"hidden_size": []}, "`space['hidden_size']` must be a non-empty list of values to try"),
    # keras-tuner's own checks of a range, in its words
    ({"hidden_size": {"min": 16, "max": 4}}, "min_value 16 is greater than the max_value 4"),
    ({"batch_size": [10, 20]}, "unknown hyperparameter 'batch_size'"),
    ({"keep_prob": [0.5, 1.5]}, "`keep_prob` must be a number in (0, 1]"),
    ({"hidden_size": [8, 12.5]}, "`space['hidden_size']` must be an integer"),
    ({"cell": ["fused", "lstm"]}, "`cell` must be one of"),
    ({"learning_rate": {"min": 0.0, "max": 1.0, "sampling": "log"}},
     "sampling='log' does not support"),
    ({"keep_prob": {"min": 0.5, "max": 1.0, "sampling": "cubic"}}, "sampling must be one of"),
    ({"hidden_size": {"min": 4}}, "`space['hidden_size']` must be a range with 'min' and 'max'"),
])
def test_bad_space_one_clear_error(space, message):
    with pytest.raises(ValueError, match="space") as info:
        normalize_space(space, WORD)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_tied_models_tune_the_embedding_as_the_last_layer_size():
    tied = WORD.replace(tie_weights=True)
    assert "embedding_size" in default_space(tied)
    assert normalize_space({"embedding_size": [8, 16]}, tied) == {"embedding_size": [8, 16]}
    assert tied.replace(embedding_size=8, num_layers=2).layer_sizes == [tied.hidden_size, 8]


def test_default_spaces_per_family():
    word, char = default_space(WORD), default_space(get_config("text8-char"))
    assert word["hidden_size"]["sampling"] == "log" and "embedding_size" in word
    assert "embedding_size" not in char  # one-hot input: no embedding to size
    assert "embedding_size" in default_space(get_config("text8-bigram"))
    for name in ("ptb-small", "text8-char", "text8-embed", "text8-bigram"):
        config = get_config(name)
        normalize_space(default_space(config), config)  # every default is valid


def test_one_hypermodel_for_every_language_model_family():
    for config in (WORD, get_config("text8-char"), get_config("text8-bigram")):
        assert hypermodel_for(config, 27).config is config
    with pytest.raises(ValueError, match="Argument `config` must be the LMConfig of a word, "
                                         "char or bigram language model. Received: "
                                         "config=mirror-seq2seq"):
        LMHyperModel(get_config("mirror-seq2seq"), 50)
    with pytest.raises(ValueError, match="vocab_size"):
        LMHyperModel(WORD, 0)


def test_declare_hyperparameters_registers_the_space_in_keras_tuner():
    hm = LMHyperModel(WORD, 30, space={"hidden_size": {"min": 8, "max": 64, "sampling": "log"},
                                       "num_layers": [1, 2], "keep_prob": 0.5,
                                       "learning_rate": {"min": 0.5, "max": 0.5}})
    hp = kt.HyperParameters()
    values = hm.declare_hyperparameters(hp)
    assert values == {"hidden_size": 8, "num_layers": 1, "keep_prob": 0.5,
                      "learning_rate": 0.5}
    kinds = {h.name: type(h).__name__ for h in hp.space}
    assert kinds == {"hidden_size": "Int", "num_layers": "Choice", "keep_prob": "Fixed",
                     "learning_rate": "Fixed"}
    assert (hp.space[0].min_value, hp.space[0].max_value, hp.space[0].sampling) == (
        8, 64, "log")


def test_parse_space_flags():
    assert parse_space_value("8:128", "hidden_size", "log") == {
        "min": 8, "max": 128, "sampling": "log"}
    assert parse_space_value("0.5:1:linear", "keep_prob") == {
        "min": 0.5, "max": 1.0, "sampling": "linear"}
    assert parse_space_value("1,2", "num_layers") == [1, 2]
    assert parse_space_value("2", "num_layers") == 2
    assert parse_space_value("gate,fused", "cell") == ["gate", "fused"]
    assert parse_space_value("", "hidden_size") == []
    with pytest.raises(ValueError, match="integer"):
        parse_space_value("8.5,16", "hidden_size")


def test_build_applies_hyperparameters_and_fit_adds_zoo_callbacks():
    hm = LMHyperModel(WORD, vocab_size=30, seed=1, space={
        "hidden_size": [6], "num_layers": [2], "embedding_size": [5], "keep_prob": [0.5],
        "learning_rate": [0.7], "max_grad_norm": [2.5], "cell": ["gate"]})
    hp = kt.HyperParameters()
    model = hm.build(hp)
    config = hm.config_for(hp)
    assert (config.hidden_size, config.num_layers, config.embedding_size, config.cell) == (
        6, 2, 5, "gate")
    assert model.get_layer("embedding").output_dim == 5
    assert model.get_layer("lstm_1").cell.units == 6
    assert model.get_layer("dropout_input").rate == pytest.approx(0.5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.7)
    assert model.optimizer.global_clipnorm == pytest.approx(2.5)
    assert model.input.shape == (2, 3)  # batch size and steps stay the config's

    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, (4, 3)).astype("int32")
    seen = {}

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.update(logs)

    history = hm.fit(hp, model, x, x, batch_size=2, validation_data=(x, x), callbacks=[Spy()])
    # WordsPerSecond ran before the tuner's callbacks, the schedule set the trial's rate.
    assert "words_per_sec" in seen and "val_perplexity" in seen
    assert history.history["learning_rate"] == [pytest.approx(0.7)]
    assert len(history.history["loss"]) == WORD.max_max_epoch

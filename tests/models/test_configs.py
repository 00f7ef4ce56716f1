"""zoo.models.configs: the presets, replace and command-line flags, the one registry of
LMConfig and MirrorConfig, their dict round trip and their Keras-worded checks."""

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from zoo.models import configs
from zoo.models.configs import (LMConfig, MirrorConfig, config_from_dict, get_config,
                                list_configs, register_config)

# The TensorFlow PTB tutorial's configs, as CONVENTIONS.md lists them: init_scale, lr, clip,
# layers, hidden, steps, max_epoch, max_max_epoch, keep_prob, lr_decay, batch.
TUTORIAL = {
    "ptb-small": (0.1, 1.0, 5.0, 2, 200, 20, 4, 13, 1.0, 0.5, 20),
    "ptb-medium": (0.05, 1.0, 5.0, 2, 650, 35, 6, 39, 0.5, 0.8, 20),
    "ptb-large": (0.04, 1.0, 10.0, 2, 1500, 35, 14, 55, 0.35, 1 / 1.15, 20),
    "ptb-test": (0.1, 1.0, 1.0, 1, 2, 2, 1, 1, 1.0, 0.5, 20),
}
FIELDS = ("init_scale", "learning_rate", "max_grad_norm", "num_layers", "hidden_size",
          "num_steps", "max_epoch", "max_max_epoch", "keep_prob", "lr_decay", "batch_size")


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(configs, "_REGISTRY", dict(configs._REGISTRY))


def test_every_preset_is_a_valid_config_that_round_trips_through_json():
    names = list_configs()
    assert names[:5] == ["ptb-small", "ptb-medium", "ptb-large", "ptb-test", "ptb-notebook"]
    assert {"text8-char", "text8-embed", "text8-bigram", "synthetic-small",
            "mirror-seq2seq"} <= set(names)
    for name in names:
        config = get_config(name)
        assert config.name == name and config.description
        assert isinstance(config, MirrorConfig if name == "mirror-seq2seq" else LMConfig)
        assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_ptb_presets_are_the_tutorials():
    for name, values in TUTORIAL.items():
        config = get_config(name)
        assert tuple(getattr(config, f) for f in FIELDS) == values, name
        assert (config.family, config.schedule, config.softmax_bias_init) == (
            "word", "ptb", "uniform")
    text8 = [get_config(n) for n in ("text8-char", "text8-embed", "text8-bigram")]
    assert [(c.family, c.embedding_size, c.keep_prob) for c in text8] == [
        ("char", None, 1.0), ("char", 128, 1.0), ("bigram", 128, 1.0)]
    for c in text8:  # the notebook: 1x64, 10 unrollings, batch 64, lr 10 x0.1, clip 1.25
        assert (c.num_layers, c.hidden_size, c.batch_size, c.learning_rate,
                c.lr_decay, c.max_grad_norm) == (1, 64, 64, 10.0, 0.1, 1.25)
    # the bigram run: 9 pairs a batch, decay every 15000 (tests/models/test_text8_recipes.py)
    assert [(c.num_steps, c.decay_steps) for c in text8] == [(10, 5000), (10, 5000),
                                                             (9, 15000)]


def test_old_language_model_metadata_still_loads():
    # zoo_meta.json's config of a ptb-small run, as written before MirrorConfig existed.
    old = {"name": "ptb-small", "family": "word", "init_scale": 0.1, "learning_rate": 1.0,
           "max_grad_norm": 5.0, "num_layers": 2, "num_steps": 20, "hidden_size": 200,
           "max_epoch": 4, "max_max_epoch": 13, "keep_prob": 1.0, "lr_decay": 0.5,
           "batch_size": 20, "vocab_size": 10000, "embedding_size": None, "schedule": "ptb",
           "decay_steps": None, "steps_per_epoch": None, "loss_scale": "num_steps",
           "cell": "fused", "tie_weights": False, "softmax_bias_init": "uniform",
           "description": "PTB tutorial small: 2x200, 20 steps, 13 epochs, no dropout"}
    assert config_from_dict(old) == get_config("ptb-small")
    assert get_config("ptb-small").to_dict() == old  # the dict format is unchanged
    assert LMConfig(**old) == get_config("ptb-small")


def test_mirror_config_dicts_old_and_new():
    preset = get_config("mirror-seq2seq")
    d = preset.to_dict()
    assert d["kind"] == "seq2seq" and d["units"] == 192 and d["encoder_layers"] == 1
    assert config_from_dict(d) == preset
    without_kind = {k: v for k, v in d.items() if k != "kind"}
    assert config_from_dict(without_kind) == preset  # no "family": a MirrorConfig's fields
    # A mirror run's metadata as written before MirrorConfig: an LMConfig-shaped dict.
    old = {"name": "mirror-seq2seq", "family": "seq2seq", "learning_rate": 3e-3,
           "max_grad_norm": 1.0, "num_layers": 1, "num_steps": 100, "hidden_size": 192,
           "max_epoch": 1, "max_max_epoch": 4, "batch_size": 64, "vocab_size": 30,
           "embedding_size": 32, "cell": "gate", "schedule": "constant",
           "loss_scale": "mean", "description": preset.description}
    assert config_from_dict(old) == preset.replace(cell="gate")
    with pytest.raises(ValueError, match="unknown MirrorConfig field.*num_steps"):
        config_from_dict({**d, "num_steps": 3})
    with pytest.raises(ValueError, match="unknown LMConfig field.*units"):
        config_from_dict({**get_config("ptb-test").to_dict(), "units": 3})


def test_replace_validates_and_ignores_none():
    config = get_config("ptb-small")
    assert config.replace(hidden_size=None) is not config
    assert config.replace(hidden_size=None) == config
    assert config.replace(hidden_size=8).hidden_size == 8 and config.hidden_size == 200
    assert get_config("ptb-small", hidden_size=8) == config.replace(hidden_size=8)
    with pytest.raises(ValueError, match="unknown LMConfig field.*units"):
        config.replace(units=8)
    with pytest.raises(ValueError, match="unknown MirrorConfig field.*hidden_size"):
        get_config("mirror-seq2seq", hidden_size=8)
    numpy_ints = config.replace(hidden_size=np.int64(8), keep_prob=np.float32(0.5))
    assert type(numpy_ints.hidden_size) is int and type(numpy_ints.keep_prob) is float
    json.dumps(numpy_ints.to_dict())


def test_flag_fields_say_which_flags_apply():
    assert LMConfig.flag_fields() == {
        "epochs": "max_max_epoch", "batch_size": "batch_size", "num_steps": "num_steps",
        "hidden_size": "hidden_size", "num_layers": "num_layers",
        "learning_rate": "learning_rate", "steps_per_epoch": "steps_per_epoch",
        "tie_weights": "tie_weights", "cell": "cell"}
    assert MirrorConfig.flag_fields() == {
        "epochs": "epochs", "batch_size": "batch_size", "hidden_size": "units",
        "num_layers": "encoder_layers", "learning_rate": "learning_rate", "cell": "cell"}
    for cls in (LMConfig, MirrorConfig):  # every flag names a real field
        assert set(cls.flag_fields().values()) <= set(cls.__dataclass_fields__)


def test_with_flags_maps_flags_to_fields():
    lm = get_config("ptb-small").with_flags(epochs=2, hidden_size=16, cell="gate",
                                            num_steps=None, tie_weights=None)
    assert (lm.max_max_epoch, lm.hidden_size, lm.cell, lm.num_steps) == (2, 16, "gate", 20)
    assert lm.max_epoch == 2  # was 4: the schedule cannot decay after the last epoch
    assert get_config("ptb-small").with_flags(epochs=20).max_epoch == 4
    mirror = get_config("mirror-seq2seq").with_flags(
        epochs=1, hidden_size=16, num_layers=3, learning_rate=0.01, num_steps=None,
        steps_per_epoch=None, tie_weights=None)
    assert (mirror.epochs, mirror.units, mirror.encoder_layers, mirror.learning_rate) == (
        1, 16, 3, 0.01)


def test_with_flags_refuses_a_flag_that_does_not_apply():
    with pytest.raises(ValueError) as info:
        get_config("mirror-seq2seq").with_flags(epochs=1, num_steps=5)
    assert str(info.value) == (
        "`num_steps` does not apply to mirror-seq2seq (a MirrorConfig); it takes `epochs`, "
        "`batch_size`, `hidden_size`, `num_layers`, `learning_rate`, `cell`")
    with pytest.raises(ValueError, match=r"^`tie_weights` does not apply to mirror-seq2seq"):
        get_config("mirror-seq2seq").with_flags(tie_weights=True)
    with pytest.raises(ValueError, match=r"^`units` does not apply to ptb-small \(an LMConfig\)"):
        get_config("ptb-small").with_flags(units=8)


def test_one_registry_for_both_kinds(registry):
    mine = MirrorConfig(name="mirror-tiny", units=8, encoder_layers=1, description="tiny")
    assert register_config(mine) is mine
    lm = register_config(get_config("ptb-test").replace(name="ptb-tiny"))
    assert list_configs()[-2:] == ["mirror-tiny", "ptb-tiny"]
    assert get_config("mirror-tiny") == mine and get_config("ptb-tiny") == lm
    assert get_config("mirror-tiny", epochs=3).epochs == 3
    with pytest.raises(TypeError, match=re.escape(
            "Argument `config` must be an LMConfig or a MirrorConfig. Received: config of type dict")):
        register_config(mine.to_dict())
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of: ptb-small, "):
        get_config("nope")


@pytest.mark.parametrize("cls, field, value, wording", [
    (LMConfig, "hidden_size", 0, "a positive integer"),
    (LMConfig, "num_layers", 1.5, "a positive integer"),
    (LMConfig, "batch_size", True, "a positive integer"),
    (LMConfig, "embedding_size", 0, "a positive integer"),
    (LMConfig, "learning_rate", -1.0, r"a finite number > 0"),
    (LMConfig, "keep_prob", 0.0, r"a number in \(0, 1\]"),
    (LMConfig, "keep_prob", 1.5, r"a number in \(0, 1\]"),
    (LMConfig, "cell", "lstm", r"one of \('fused', 'gate', 'keras'\)"),
    (LMConfig, "family", "seq2seq", r"one of \('word', 'char', 'bigram'\)"),
    (MirrorConfig, "units", 0, "a positive integer"),
    (MirrorConfig, "augment", -1, "an integer >= 0"),
    (MirrorConfig, "dropout", 1.0, r"a float in \[0, 1\)"),
    (MirrorConfig, "clipnorm", 0.0, "a finite number > 0"),
    (MirrorConfig, "cell", "gru", r"one of \('fused', 'gate', 'keras'\)"),
])
def test_bad_values_are_refused_in_keras_wording(cls, field, value, wording):
    base = get_config("ptb-small" if cls is LMConfig else "mirror-seq2seq")
    with pytest.raises(ValueError, match=rf"^Argument `{field}` must be {wording}\. "
                                         rf"Received: {field}={value!r}$"):
        base.replace(**{field: value})


def test_mirror_defaults_match_the_data_module():
    from zoo.datasets import mirror_text as data

    default = MirrorConfig()
    assert (default.max_words, default.max_length) == (data.DEFAULT_MAX_WORDS,
                                                       data.DEFAULT_MAX_LENGTH)


def test_configs_module_imports_no_keras():
    code = "import sys, zoo.models.configs; print('keras' in sys.modules)"
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert out.stdout.strip() == "False"

"""zoo.models.awd_config: the AWD-LSTM presets against the reference's PTB command, the
per-layer sizes of a tied model, the dict round trip and the Keras-worded checks."""

import json

import pytest

from zoo.models import AWDConfig
from zoo.models import LMConfig
from zoo.models import config_from_dict
from zoo.models import get_config

# salesforce/awd-lstm-lm README, PTB: `python main.py --batch_size 20 --data data/penn
# --dropouti 0.4 --dropouth 0.25 --seed 141 --epoch 500 --save PTB.pt`, with main.py's
# argparse defaults for every other flag (read from main.py, written out here by hand).
REFERENCE_PTB = {
    "num_layers": 3, "hidden_size": 1150, "embedding_size": 400, "learning_rate": 30.0,
    "max_grad_norm": 0.25, "max_max_epoch": 500, "batch_size": 20, "num_steps": 70,
    "dropout_output": 0.4, "dropout_hidden": 0.25, "dropout_input": 0.4,
    "dropout_embedding": 0.1, "weight_dropout": 0.5, "tie_weights": True, "ar_alpha": 2.0,
    "tar_beta": 1.0, "weight_decay": 1.2e-6, "nonmono": 5, "init_scale": 0.1,
}


def test_awd_ptb_is_the_reference_command():
    config = get_config("awd-ptb")
    assert isinstance(config, AWDConfig) and isinstance(config, LMConfig)
    assert {k: getattr(config, k) for k in REFERENCE_PTB} == REFERENCE_PTB
    # main.py's RNNModel: nhid for every layer but the last, which has ninp when tied.
    assert config.layer_sizes == [1150, 1150, 400]
    assert (config.loss_scale, config.schedule, config.variable_bptt, config.lstm_init) == (
        "mean", "constant", True, "torch")
    assert config.finetune_epochs == 500  # finetune.py, run with the same --epoch 500


def test_awd_mini_keeps_the_recipe_and_shrinks_the_sizes():
    mini, ptb = get_config("awd-mini"), get_config("awd-ptb")
    assert mini.layer_sizes[-1] == mini.embedding_size < mini.hidden_size < ptb.hidden_size
    assert (mini.learning_rate, mini.max_grad_norm, mini.weight_decay, mini.nonmono) == (
        30.0, 0.25, 1.2e-6, 5)


@pytest.mark.parametrize("name", ["awd-ptb", "awd-mini"])
def test_awd_configs_round_trip_through_json(name):
    config = get_config(name, hidden_size=64, dropout_input=0.3)
    d = json.loads(json.dumps(config.to_dict()))
    assert d["kind"] == "awd"
    back = config_from_dict(d)
    assert type(back) is AWDConfig and back == config


def test_a_tied_lmconfig_gives_its_last_layer_the_embedding_size():
    config = get_config("ptb-small", tie_weights=True, embedding_size=48, num_layers=3)
    assert config.layer_sizes == [200, 200, 48]
    assert get_config("ptb-small", embedding_size=48).layer_sizes == [200, 200]
    assert get_config("ptb-small", tie_weights=True).layer_sizes == [200, 200]
    with pytest.raises(ValueError, match=r"Argument `tie_weights` applies to word models only"):
        get_config("text8-embed", tie_weights=True)


@pytest.mark.parametrize("field, value, message", [
    ("dropout_input", 1.0, "Argument `dropout_input` must be a float in [0, 1). "
                           "Received: dropout_input=1.0"),
    ("weight_dropout", -0.1, "Argument `weight_dropout` must be a float in [0, 1). "
                             "Received: weight_dropout=-0.1"),
    ("dropout_embedding", 1.5, "Argument `dropout_embedding` must be a float in [0, 1). "
                               "Received: dropout_embedding=1.5"),
    ("num_steps", 4, "Argument `num_steps` must be an integer >= 5. Received: num_steps=4"),
    ("nonmono", 0, "Argument `nonmono` must be a positive integer. Received: nonmono=0"),
    ("ar_alpha", -1.0, "Argument `ar_alpha` must be a finite number >= 0. "
                       "Received: ar_alpha=-1.0"),
    ("lstm_init", "glorot", "Argument `lstm_init` must be one of ('torch', 'uniform'). "
                            "Received: lstm_init='glorot'"),
    ("steps_per_epoch", 10, "Argument `steps_per_epoch` does not apply to an AWDConfig"),
    ("cell", "keras", "Argument `weight_dropout` must be 0 with cell='keras' "
                      "(keras.layers.LSTM has no weight drop; use cell='fused' or 'gate'). "
                      "Received: weight_dropout=0.5"),
])
def test_bad_awd_values_get_one_keras_worded_error(field, value, message):
    with pytest.raises(ValueError) as info:
        get_config("awd-mini", **{field: value})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_fixed_bptt_may_be_shorter_than_five():
    assert get_config("awd-mini", variable_bptt=False, num_steps=3).num_steps == 3


def test_awd_flags_are_the_lm_flags_but_steps_per_epoch():
    config = get_config("awd-mini")
    assert config.with_flags(num_steps=35, hidden_size=100).num_steps == 35
    with pytest.raises(ValueError, match="`steps_per_epoch` does not apply to awd-mini"):
        config.with_flags(steps_per_epoch=5)

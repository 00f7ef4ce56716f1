"""`zoo.training.fit_kwargs`: `fit`'s epochs of every preset, and `fit_datasets` plans them."""

import numpy as np
import pytest

from zoo.datasets.corpus import Corpus
from zoo.datasets.corpus import fit_datasets
from zoo.models import get_config
from zoo.models import list_configs
from zoo.training import fit_kwargs


LM_RECIPES = [n for n in list_configs() if hasattr(get_config(n), "max_max_epoch")]


def test_the_recipes_are_the_language_models():
    assert "ptb-small" in LM_RECIPES and "awd-mini" in LM_RECIPES
    assert "mirror-seq2seq" not in LM_RECIPES  # a MirrorConfig fits for `epochs`


@pytest.mark.parametrize("name", LM_RECIPES)
def test_epochs_are_the_recipes_epochs_plus_a_short_one_and_finetuning(name):
    config = get_config(name)
    expected = {"epochs": config.max_max_epoch + (config.extra_steps > 0)
                + getattr(config, "finetune_epochs", 0), "shuffle": False}
    if config.steps_per_epoch:
        expected["steps_per_epoch"] = config.steps_per_epoch
    assert fit_kwargs(config) == expected


def test_the_variable_length_plan_covers_every_epoch_fit_runs():
    config = get_config("awd-mini").replace(batch_size=2, num_steps=5, max_max_epoch=2)
    ids = np.arange(200, dtype=np.int32) % 7
    corpus = Corpus("word", ids, ids, ids, [str(i) for i in range(7)], "tiny")
    train_ds, _ = fit_datasets(config, corpus)
    assert train_ds.epochs == fit_kwargs(config)["epochs"] == 2 + config.finetune_epochs

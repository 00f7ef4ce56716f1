"""`train.py tune` trains each trial as `train.py` does: same datasets, callbacks, fit arguments.

The text8 recipes train `steps_per_epoch` (1,000) steps per epoch from one continuing stream;
a trial must get that stream, not one pass over the data that runs out.
"""

import json


from helpers.cli import run_main
from zoo.training import fit_kwargs
from zoo.training.recipe import recipe_callbacks
from zoo.tuning.hypermodels import LMHyperModel



def test_text8_trial_runs_every_step_of_every_epoch(tmp_path, monkeypatch):
    steps_run = []
    original = LMHyperModel.fit

    def spy(self, hp, model, *args, **kwargs):
        history = original(self, hp, model, *args, **kwargs)
        steps_run.append(int(model.optimizer.iterations.numpy()))
        return history

    monkeypatch.setattr(LMHyperModel, "fit", spy)
    # The text8-char recipe with 40 steps per epoch (1,000 in the preset) on 2,000 training
    # characters read 20 x 10 at a time: one pass is 10 batches.
    from zoo.models import configs

    monkeypatch.setitem(configs._REGISTRY, "text8-char",
                        configs.get_config("text8-char", steps_per_epoch=40))
    argv = ["tune", "--model", "text8-char", "--max-trials", "1", "--epochs", "2",
            "--batch-size", "20", "--num-steps", "10", "--corpus-tokens", "2000",
            "--space", json.dumps({"hidden_size": 4}), "--directory", str(tmp_path),
            "--verbose", "0"]
    assert run_main(argv) == 0
    assert steps_run == [2 * 40 + 1]  # and the notebook's extra last step, as train.py


def test_train_and_tune_share_the_fit_arguments():
    """The trial's callbacks and fit kwargs are train.py's (recipe_callbacks, fit_kwargs)."""
    import keras_tuner as kt

    from zoo.models.configs import get_config
    from zoo.tuning.hypermodels import hypermodel_for

    config = get_config("text8-bigram", hidden_size=8, batch_size=2, num_steps=3)
    hypermodel = hypermodel_for(config, 27, space={"learning_rate": [2.0]})
    seen = {}

    class Model:
        def fit(self, *args, **kwargs):
            seen.update(kwargs)

    hypermodel.fit(kt.HyperParameters(), Model(), "x")
    trial_config = config.replace(learning_rate=2.0)
    callbacks, kwargs = recipe_callbacks(trial_config), fit_kwargs(trial_config)
    assert {k: seen[k] for k in kwargs} == kwargs == {
        "epochs": config.max_max_epoch + 1, "shuffle": False, "steps_per_epoch": 1000}
    assert [type(c) for c in seen["callbacks"]] == [type(c) for c in callbacks]
    assert [c.get_config() for c in seen["callbacks"] if hasattr(c, "initial_lr")] == \
        [{"initial_lr": 2.0, "factor": 0.1, "every": 15000}]  # the bigram run's schedule


def test_train_and_tune_call_the_same_functions():
    """train.py's run and a tuner's trial take their datasets, fit arguments and callbacks from
    the same functions (so the two cannot drift apart again)."""
    from zoo.datasets import corpus
    from zoo.experiments import train_lm
    from zoo.training import recipe
    from zoo.tuning import hypermodels, run

    assert train_lm.recipe_callbacks is hypermodels.recipe_callbacks is recipe.recipe_callbacks
    assert train_lm.fit_datasets is run.fit_datasets is corpus.fit_datasets
    assert (train_lm.recipe_fit_kwargs is run.recipe_fit_kwargs is hypermodels.fit_kwargs
            is recipe.fit_kwargs)


def test_an_awd_trial_reads_each_epochs_plan_and_averages(tmp_path, monkeypatch):
    """A tune trial of an AWD recipe trains as train.py does: the variable-length dataset is
    driven by VariableBPTT (each epoch its own plan), and NT-ASGD fine-tunes."""
    from zoo.datasets import bptt_lengths
    from zoo.models import configs

    tiny = configs.get_config("awd-mini", embedding_size=4, finetune_epochs=1)
    monkeypatch.setitem(configs._REGISTRY, "awd-mini", tiny)
    seen = []
    original = LMHyperModel.fit

    def spy(self, hp, model, *args, **kwargs):
        history = original(self, hp, model, *args, **kwargs)
        seen.append((int(model.optimizer.iterations.numpy()), args[0].batch_size))
        return history

    monkeypatch.setattr(LMHyperModel, "fit", spy)
    argv = ["tune", "--model", "awd-mini", "--max-trials", "1", "--epochs", "2",
            "--batch-size", "4", "--num-steps", "10", "--corpus-tokens", "3000",
            "--space", json.dumps({"hidden_size": 4, "num_layers": 2}),
            "--directory", str(tmp_path), "--verbose", "0"]
    assert run_main(argv) == 0
    [(steps, batch)] = seen
    rows = 3001 // batch  # the generated corpus's training tokens, batchified
    assert steps == sum(len(bptt_lengths(0, epoch, rows, bptt=10)) for epoch in range(3))

"""Hyperband trials that continue a bracket read the stream on from where it stopped.

A trial with `tuner/initial_epoch` k > 0 starts from the weights of the k epochs of an
earlier trial; on stream data (`steps_per_epoch`) it must train on the batches after those
k × steps_per_epoch ones, as a resumed `train.py` run does, not on the stream's first ones.
"""

import keras
import numpy as np

from zoo.datasets.corpus import fit_datasets
from zoo.datasets.corpus import load_corpus
from zoo.models.configs import get_config
from zoo.training import fit_kwargs
from zoo.tuning import hypermodel_for
from zoo.tuning import make_tuner

SPE = 3  # steps per epoch


def test_hyperband_continuation_reads_the_stream_on(tmp_path, monkeypatch):
    config = get_config("synthetic-small", batch_size=4, num_steps=5, max_max_epoch=2,
                        max_epoch=1, steps_per_epoch=SPE)
    corpus = load_corpus("synthetic", "word", corpus_tokens=2000, seed=0)
    train_ds, valid_ds = fit_datasets(config, corpus)
    stream = [x.numpy() for x, _ in train_ds.take(2 * SPE)]
    assert not np.array_equal(stream[0], stream[SPE])  # the test can tell them apart

    first_batches = []  # (initial_epoch, the first x the trial's fit reads)
    fit = keras.Model.fit

    def spy(self, x=None, *args, **kwargs):
        first_batches.append((kwargs.get("initial_epoch", 0), next(iter(x))[0].numpy()))
        return fit(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    hypermodel = hypermodel_for(config, len(corpus.vocab), seed=0,
                                space={"hidden_size": [4, 6], "num_layers": 1})
    tuner = make_tuner(hypermodel, "hyperband", max_trials=3, directory=str(tmp_path),
                       project_name="hb", seed=0, max_epochs=2, hyperband_factor=2)
    tuner.search(train_ds, validation_data=valid_ds, verbose=0, **fit_kwargs(config))

    # factor 2 over 2 epochs: two 1-epoch trials, then the better one continued to epoch 2.
    assert [epoch for epoch, _ in first_batches] == [0, 0, 1]
    for epoch, x in first_batches:
        np.testing.assert_array_equal(x, stream[epoch * SPE])
    assert len(tuner.oracle.trials) == 3  # max_trials bounds hyperband's brackets

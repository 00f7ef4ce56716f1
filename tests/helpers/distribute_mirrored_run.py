"""Run by tests/training/test_distribute.py in a fresh process (not collected by pytest).

Splits the CPU into 2 logical devices (possible only before TensorFlow starts, hence the
separate process), trains one tiny stateful LM on one device and under MirroredStrategy
over the two, at the same global batch, and prints one JSON line with what the test checks.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from zoo.datasets import MarkovSource  # noqa: E402
from zoo.datasets import epoch_size  # noqa: E402
from zoo.datasets import ptb_dataset  # noqa: E402
from zoo.models.configs import get_config  # noqa: E402
from zoo.models.lm import build_lm  # noqa: E402
from zoo.models.lm import compile_lm  # noqa: E402
from zoo.training import StatefulRNNCallback  # noqa: E402
from zoo.training import get_rnn_states  # noqa: E402
from zoo.training.distribute import distribute_for_fit  # noqa: E402
from zoo.training.distribute import distribute_stateful_dataset  # noqa: E402
from zoo.training.distribute import make_strategy  # noqa: E402
from zoo.training.distribute import prepare_distributed_model  # noqa: E402
from zoo.training.distribute import replica_batch_size  # noqa: E402

B, T, V, EPOCHS = 4, 5, 30, 2
# A clip norm small enough that every step clips (the loss is scaled by num_steps), and
# weights large enough that the LSTM states weigh on the predictions.
CONFIG = get_config("ptb-small", cell="fused", hidden_size=8, num_layers=2, num_steps=T,
                    batch_size=B, max_grad_norm=0.5, learning_rate=1.0, init_scale=0.5)
source = MarkovSource(vocab_size=V, num_successors=3, seed=0)
TRAIN = source.sample(B * T * 6 + 1, rng=1)  # 6 batches an epoch
VALID = source.sample(B * T * 3 + 1, rng=2)  # 3 batches


def train(strategy, fix_clipping=True):
    keras.utils.set_random_seed(0)
    rows = B if strategy is None else replica_batch_size(strategy, B)
    scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
    with scope:
        model = build_lm(CONFIG, vocab_size=V, batch_size=rows, seed=0)
        compile_lm(model, CONFIG)
    train_ds, valid_ds = ptb_dataset(TRAIN, B, T), ptb_dataset(VALID, B, T)
    kwargs = {}
    if strategy is not None:
        if fix_clipping:
            prepare_distributed_model(model)
        train_ds, valid_ds, kwargs = distribute_for_fit(strategy, train_ds, valid_ds, B)
    history = model.fit(
        train_ds, validation_data=valid_ds, epochs=EPOCHS, shuffle=False, verbose=0,
        callbacks=[StatefulRNNCallback(reset_on_epoch_begin=False)], **kwargs)
    # After fit the states are the training states at the end of the last epoch.
    return history.history, [s.tolist() for s in get_rnn_states(model)]


def replica_rows(strategy):
    """The x rows each replica receives in the first two steps."""
    dataset = distribute_stateful_dataset(strategy, ptb_dataset(TRAIN, B, T), B)
    iterator = iter(dataset)
    return [[np.asarray(r).tolist() for r in strategy.experimental_local_results(next(iterator)[0])]
            for _ in range(2)]


def main():
    strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    out = {
        "replicas": strategy.num_replicas_in_sync,
        "epoch_batches": epoch_size(len(TRAIN), B, T),
        "global_batches": [b[0].tolist() for b in ptb_dataset(TRAIN, B, T).take(2)
                           .as_numpy_iterator()],
        "replica_rows": replica_rows(strategy),
        "state_kinds": [type(v.value).__name__ + "/" + str(v.value.aggregation) for v in
                        _state_variables_of(strategy)],
    }
    # States run on across epochs, so the states snapshotted around each validation and
    # restored after it carry into the next epoch (validation itself starts from zeros).
    out["single"] = train(None)
    out["mirrored"] = train(strategy)
    out["mirrored_unfixed_clipping"] = train(strategy, fix_clipping=False)
    print(json.dumps(out))


def _state_variables_of(strategy):
    with strategy.scope():
        model = build_lm(CONFIG, vocab_size=V, batch_size=replica_batch_size(strategy, B))
    from zoo.training import find_stateful_rnn_layers

    return [v for layer in find_stateful_rnn_layers(model) for v in layer.states]


if __name__ == "__main__":
    sys.exit(main())

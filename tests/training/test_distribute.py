"""Issue 14 part 2: data-parallel training of stateful LMs with tf.distribute.

"Stateful LMs keep each replica's rows continuing their own text, states reset per epoch,
validation isolated. Test on CPU: MirroredStrategy over 2 logical CPU devices, and 2
workers on 127.0.0.1 with TF_CONFIG: per-epoch perplexity equal to the single-device run
at the same global batch within float tolerance."

Both runs need a fresh TensorFlow (logical devices and collective ops are configured once
per process), so they run in subprocesses: `helpers/distribute_mirrored_run.py`, and `train.py`.
"""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import MIRRORED_RUN, ROOT, free_ports


pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute needs TensorFlow"
)


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3",
               KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def mirrored():
    proc = subprocess.run(
        [sys.executable, str(MIRRORED_RUN)], cwd=ROOT, env=_env(),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_each_replica_reads_its_own_rows_of_every_batch(mirrored):
    assert mirrored["replicas"] == 2
    for step, global_batch in enumerate(mirrored["global_batches"]):
        replica_0, replica_1 = mirrored["replica_rows"][step]
        assert replica_0 == global_batch[:2]
        assert replica_1 == global_batch[2:]


def test_state_variables_are_one_copy_per_replica(mirrored):
    # What the design relies on: built in the scope, Keras's RNN states are MirroredVariables
    # whose replica-context writes (aggregation NONE) stay on each replica's own copy.
    assert mirrored["state_kinds"] == ["MirroredVariable/VariableAggregationV2.NONE"] * 4


def test_mirrored_perplexities_equal_single_device(mirrored):
    single, _ = mirrored["single"]
    distributed, _ = mirrored["mirrored"]
    assert len(single["perplexity"]) == 2
    for key in ("perplexity", "val_perplexity", "loss", "val_loss"):
        np.testing.assert_allclose(distributed[key], single[key], rtol=1e-5, err_msg=key)


def test_mirrored_states_equal_single_device_states(mirrored):
    # get_rnn_states stacks the replicas' rows: the global batch's states, which after
    # 2 epochs and 2 validations (snapshotted and restored per replica) are those of
    # the single-device run, row for row.
    _, single = mirrored["single"]
    _, distributed = mirrored["mirrored"]
    assert len(distributed) == len(single) == 4
    for d, s in zip(distributed, single):
        assert np.shape(d) == np.shape(s) == (4, 8)
        np.testing.assert_allclose(d, s, rtol=1e-4, atol=1e-6)
        assert np.abs(np.asarray(s)).max() > 1e-3  # real states, not zeros


def test_keras_alone_clips_each_replica_share(mirrored):
    # Without prepare_distributed_model, Keras 3.15 clips every replica's gradient before
    # summing: with clipping active, training differs from the single-device run.
    single, _ = mirrored["single"]
    unfixed, _ = mirrored["mirrored_unfixed_clipping"]
    assert abs(unfixed["perplexity"][1] / single["perplexity"][1] - 1) > 1e-3


def _history(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in ("perplexity", "val_perplexity")}


TRAIN_ARGS = ["train.py", "--model", "ptb-small", "--hidden-size", "8", "--num-steps", "40",
              "--batch-size", "4", "--epochs", "2", "--corpus-tokens", "1000",
              "--corpus-vocab", "30", "--verbose", "0"]


@pytest.mark.slow  # three TensorFlow processes, two of them in lockstep over gRPC
def test_multi_worker_train_py_equals_single_device(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    try:
        # Each process its own KERAS_HOME: the generated corpus is written once per cache.
        procs.append(subprocess.Popen(
            [sys.executable, *TRAIN_ARGS, "--output-dir", str(tmp_path / "single")],
            cwd=ROOT, env=_env(KERAS_HOME=str(tmp_path / "k")), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
        for i in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            procs.append(subprocess.Popen(
                [sys.executable, *TRAIN_ARGS, "--distribute", "multi-worker",
                 "--output-dir", str(tmp_path / "multi")],
                cwd=ROOT, env=_env(TF_CONFIG=tf_config, KERAS_HOME=str(tmp_path / f"k{i}")),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]

    single = _history(tmp_path / "single" / "history.csv")
    assert len(single["perplexity"]) == 2
    # The chief writes the run directory; worker 1 writes its copy apart.
    for path in (tmp_path / "multi", tmp_path / "multi" / "worker-1"):
        multi = _history(path / "history.csv")
        for key in single:
            np.testing.assert_allclose(multi[key], single[key], rtol=1e-5, err_msg=key)
    with open(tmp_path / "single" / "results.json") as f:
        single_results = json.load(f)
    with open(tmp_path / "multi" / "results.json") as f:
        multi_results = json.load(f)
    # Only the chief runs the batch-1 evaluation; worker 1 says so.
    worker_results = json.loads((tmp_path / "multi" / "worker-1" / "results.json").read_text())
    assert worker_results["evaluated_by"] == "the chief"
    assert "valid_perplexity" not in worker_results and "test_perplexity" not in worker_results
    assert "the chief evaluates the run" in outputs[2][0]
    # The batch-1 evaluation of the best checkpoint: same weights, same perplexity.
    np.testing.assert_allclose(multi_results["valid_perplexity"],
                               single_results["valid_perplexity"], rtol=1e-5)


def test_strategy_and_batch_errors():
    from zoo.training.distribute import make_strategy, replica_batch_size

    with pytest.raises(ValueError, match=r"Argument `distribute` must be one of \('mirrored', "
                                         r"'multi-worker'\)\. Received: distribute='horovod'"):
        make_strategy("horovod")

    class ThreeReplicas:
        num_replicas_in_sync = 3

    assert replica_batch_size(ThreeReplicas(), 6) == 2
    with pytest.raises(ValueError, match=r"Argument `batch_size` must be divisible by the "
                                         r"number of replicas \(3\)\. Received: batch_size=20"):
        replica_batch_size(ThreeReplicas(), 20)


def test_cli_rejects_unknown_strategy(capsys):
    from zoo.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--distribute", "horovod", "--epochs", "1"])
    assert exit_info.value.code == 2
    assert "--distribute: invalid choice: 'horovod'" in capsys.readouterr().err


def test_cli_rejects_distribute_for_the_mirror_model(capsys):
    from zoo.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "mirror-seq2seq", "--distribute", "mirrored"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "error: --distribute applies to the language models, not mirror-seq2seq\n")


def test_distribute_needs_the_tensorflow_backend(monkeypatch):
    from zoo.training import distribute

    monkeypatch.setattr(distribute.keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match=r"^tf\.distribute needs the TensorFlow backend\. "
                                         r"Received: KERAS_BACKEND=jax$"):
        distribute.make_strategy("mirrored")

"""Distributed search: one chief and two workers on 127.0.0.1, as separate processes."""

import os
import signal
import subprocess
import sys
import time

from helpers import ROOT, free_port
from helpers.tuning import read_csv, tune_args

TIME_LIMIT = 240  # seconds for the whole search; every process is ended in `finally`


def test_chief_and_two_workers_finish_every_trial(tmp_path):
    from zoo.datasets.corpus import load_corpus

    load_corpus("synthetic", "word", corpus_tokens=3000, seed=0)  # generate the corpus once
    port = str(free_port())
    argv = [sys.executable, str(ROOT / "train.py"), *tune_args(tmp_path, max_trials=4)]
    procs, logs = {}, {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = dict(os.environ, KERASTUNER_TUNER_ID=tuner_id,
                       KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port,
                       TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
            logs[tuner_id] = open(tmp_path / f"{tuner_id}.log", "w+")
            procs[tuner_id] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logs[tuner_id],
                                               stderr=subprocess.STDOUT,
                                               start_new_session=True)
        deadline = time.monotonic() + TIME_LIMIT
        for tuner_id, proc in procs.items():
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for f in logs.values():
            f.close()
    output = {k: (tmp_path / f"{k}.log").read_text() for k in procs}
    for tuner_id, proc in procs.items():
        assert proc.returncode == 0, f"{tuner_id} exited {proc.returncode}:\n{output[tuner_id]}"

    # The chief saw every trial finish and alone wrote the report and the best model.
    rows = read_csv(tmp_path / "tiny" / "trials.csv")
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2", "3"]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert all(float(r["val_perplexity"]) > 1 for r in rows)
    assert "best trial" in output["chief"] and "serving trials" in output["chief"]
    assert (tmp_path / "tiny" / "best.keras").is_file()
    for worker in ("tuner0", "tuner1"):
        assert "no trials left" in output[worker] and "best trial" not in output[worker]

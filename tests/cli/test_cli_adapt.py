"""`train.py evaluate` with the cache pointer and dynamic evaluation, on a tiny checkpoint.

The numbers themselves are checked against numpy in tests/training/test_cache_pointer.py
and test_dynamic_eval.py; here: the flags, the LSTM-alone number beside the adapted one,
tuning that reads valid only until the values are chosen, and one-line errors.
"""

import re

import numpy as np
import pytest

from helpers.cli import run_main
import zoo.layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
import zoo.training._stream as stream
from zoo.datasets.corpus import load_corpus
from zoo.experiments.adapt import evaluate_adapted
from zoo.experiments.evaluate import EVAL_STEPS, read_checkpoint
from zoo.models.lm import copy_to_batch
from zoo.training import tune_cache_pointer

TINY = ["--model", "ptb-test", "--hidden-size", "16", "--num-steps", "5", "--corpus-tokens",
        "4000", "--corpus-vocab", "40", "--verbose", "0"]
TINY_DATA = ["--corpus-tokens", "4000", "--corpus-vocab", "40"]
LINE = re.compile(r"^(\w+) perplexity ([\d.]+) LSTM alone, ([\d.]+) with (.*) \(synthetic, "
                  r"[\d,]+ tokens, batch 1\)$")



@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert run_main([*TINY, "--epochs", "1", "--output-dir", str(out)]) == 0
    return str(out / "best.keras")


def evaluate(capsys, checkpoint, *flags):
    assert run_main(["evaluate", "--checkpoint", checkpoint, *TINY_DATA, *flags]) == 0
    return capsys.readouterr().out.strip().splitlines()


def test_cache_pointer_is_printed_beside_the_lstm_alone(checkpoint, capsys):
    plain = float(evaluate(capsys, checkpoint)[-1].split()[2])
    line = evaluate(capsys, checkpoint, "--cache-window", "30", "--cache-theta", "0.5",
                    "--cache-lambda", "0.2")[-1]
    split, alone, adapted, what = LINE.match(line).groups()
    assert split == "test" and what == "the cache pointer (window 30, theta 0.5, lambda 0.2, dot)"
    # The same chunks of EVAL_STEPS tokens as plain `evaluate`: the same LSTM-alone number.
    assert float(alone) == pytest.approx(plain, abs=2e-3)
    assert float(adapted) != pytest.approx(plain, rel=1e-3)


def test_dynamic_evaluation_with_lr_zero_is_the_lstm_alone(checkpoint, capsys):
    line = evaluate(capsys, checkpoint, "--dynamic-lr", "0", "--dynamic-decay", "0",
                    "--dynamic-seq-len", "50")[-1]
    split, alone, adapted, what = LINE.match(line).groups()
    assert what == "dynamic evaluation (sgd, lr 0, decay 0, segments of 50)"
    assert float(adapted) == pytest.approx(float(alone), rel=1e-4)


def test_tuning_reads_valid_only_until_the_values_are_chosen(checkpoint, capsys, monkeypatch):
    corpus = load_corpus("synthetic", "word", None, 4000, 40, seed=0)
    seen = []
    original = stream.stream_ids

    def record(ids, length):
        arr = np.asarray(ids)
        names = [n for n in ("train", "valid", "test")
                 if np.array_equal(arr, getattr(corpus, n))]
        seen.append(names[0] if names else "?")
        return original(ids, length)

    monkeypatch.setattr(stream, "stream_ids", record)
    lines = evaluate(capsys, checkpoint, "--tune-on-valid", "--cache-window", "5", "50",
                     "--cache-theta", "0.1", "1.0", "--cache-lambda", "0.1", "0.4",
                     "--dynamic-lr", "0.5", "--dynamic-decay", "0.1",
                     "--dynamic-seq-len", "25")
    runs = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]
    assert runs == ["valid", "test", "valid", "test"], seen  # cache, then dynamic evaluation
    assert lines[0].startswith("tuned on valid: valid perplexity ")
    assert LINE.match(lines[1]) and LINE.match(lines[3])

    # The cache's values are those the search on valid alone picks.
    model, config, _ = read_checkpoint(checkpoint)
    clone = copy_to_batch(model, config, len(corpus.vocab), batch_size=1, num_steps=EVAL_STEPS)
    best = tune_cache_pointer(clone, corpus.valid, (5, 50), (0.1, 1.0), (0.1, 0.4))
    assert (f"(window {best['window']}, theta {best['theta']:g}, lambda {best['lambd']:g}, "
            "dot)") in lines[1]


@pytest.mark.parametrize("flags, message", [
    (["--cache-window", "0"], "argument --cache-window: Argument `window` must be a positive "
                              "integer. Received: window=0"),
    (["--cache-lambda", "1.5"], "argument --cache-lambda: Argument `lambd` must be a number "
                                "in [0, 1]. Received: lambd=1.5"),
    (["--cache-theta", "-1"], "argument --cache-theta: Argument `theta` must be a finite "
                              "number >= 0. Received: theta=-1.0"),
    (["--dynamic-lr", "-0.1"], "argument --dynamic-lr: Argument `learning_rate` must be a "
                               "finite number >= 0. Received: learning_rate=-0.1"),
    (["--dynamic-decay", "nan"], "argument --dynamic-decay: Argument `decay` must be a number "
                                 "in [0, 1]. Received: decay=nan"),
    (["--cache-window", "5"], "the cache pointer needs --cache-window, --cache-theta, "
                              "--cache-lambda (or --tune-on-valid to search them)"),
    (["--dynamic-lr", "0.1", "0.2", "--dynamic-decay", "0"],
     "--dynamic-lr takes one value (several only with --tune-on-valid)"),
    (["--tune-on-valid"], "--tune-on-valid needs a --cache-* or --dynamic-* flag to say what "
                          "to tune"),
    (["--tune-on-valid", "--dynamic-lr", "0.1", "--split", "valid"],
     "--tune-on-valid tunes on valid: report another --split (test)"),
])
def test_bad_values_are_one_line_before_anything_is_read(flags, message, capsys, tmp_path):
    missing = str(tmp_path / "never-read.keras")  # the flags are refused before the file
    assert run_main(["evaluate", "--checkpoint", missing, *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(message), err


def test_python_api_checks_before_reading_the_checkpoint(tmp_path):
    with pytest.raises(ValueError) as e:
        evaluate_adapted(str(tmp_path / "none.keras"),
                         cache={"window": 0, "theta": 1.0, "lambd": 0.1})
    assert str(e.value) == "Argument `window` must be a positive integer. Received: window=0"

"""End-to-end tests of train.py: train, evaluate, generate, resume, and bad values.

The runs are tiny (a generated corpus of a few thousand tokens, 16 units) so the whole
file stays well under a minute of training; the real runs are in the README.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from helpers.cli import run_main
from helpers.kills import sigkill_when
import zoo.layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
from helpers import ROOT

TINY = ["--model", "ptb-test", "--hidden-size", "16", "--num-steps", "5", "--corpus-tokens",
        "4000", "--corpus-vocab", "40", "--verbose", "0"]
TINY_DATA = ["--corpus-tokens", "4000", "--corpus-vocab", "40"]



def run_script(args, env=None, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert run_main([*TINY, "--epochs", "2", "--output-dir", str(out)]) == 0
    return out


def test_train_writes_every_artifact(tiny_run):
    for name in ("best.keras", "final.keras", "history.csv", "learning_curve.png",
                 "results.json", "zoo_meta.json"):
        assert (tiny_run / name).is_file(), name
    # The backup is kept: it is the last commit a longer run continues from.
    assert json.loads((tiny_run / "backup" / "backup.json").read_text())["epoch"] == 2
    results = json.loads((tiny_run / "results.json").read_text())
    history = results["history"]
    assert len(history["perplexity"]) == len(history["val_perplexity"]) == 2
    assert history["perplexity"][1] < history["perplexity"][0]
    assert all(w > 0 for w in history["words_per_sec"])
    # The PTB schedule: max_epoch is 1 for ptb-test, so epoch 2 runs at lr * 0.5.
    assert history["learning_rate"] == pytest.approx([1.0, 0.5])
    # No model beats the generated corpus's entropy rate.
    assert results["test_perplexity"] > results["perplexity_floor"] * 0.98
    assert np.isfinite(results["test_perplexity"])


def test_evaluate_reproduces_the_test_perplexity(tiny_run, capsys):
    results = json.loads((tiny_run / "results.json").read_text())
    assert run_main(["evaluate", "--checkpoint", str(tiny_run / "best.keras"), *TINY_DATA]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("test perplexity ")
    assert float(line.split()[2]) == pytest.approx(results["test_perplexity"], abs=1e-3)


def _generate(run, capsys, *args):
    assert run_main(["generate", "--checkpoint", str(run / "best.keras"), *args]) == 0
    return capsys.readouterr().out.rstrip("\n")


def test_generate_length_vocabulary_and_greedy(tiny_run, capsys):
    import keras

    from zoo.models import build_lm
    from zoo.models.configs import LMConfig

    meta = json.loads((tiny_run / "zoo_meta.json").read_text())
    vocab = meta["vocab"]
    text = _generate(tiny_run, capsys, "--length", "30", "--seed", "1")
    tokens = text.replace("\n", " <eos> ").split()
    assert len(tokens) == 30
    assert set(tokens) <= set(vocab)

    prime = " ".join(vocab[1:4])
    greedy = [_generate(tiny_run, capsys, "--prime", prime, "--length", "12",
                        "--temperature", "0", "--seed", str(s)) for s in (1, 2)]
    assert greedy[0] == greedy[1]
    sampled = {_generate(tiny_run, capsys, "--prime", prime, "--length", "12", "--seed", str(s))
               for s in range(4)}
    assert len(sampled) > 1, "temperature 1 samples should differ between seeds"

    # Independently: a whole-sequence (non-stateful) call on prime + greedy continuation
    # must take the argmax at every position.
    trained = keras.saving.load_model(tiny_run / "best.keras", compile=False)
    config = LMConfig(**meta["config"])
    index = {w: i for i, w in enumerate(vocab)}
    ids = [index[w] for w in prime.split()] + [index[w] for w in
                                               greedy[0].replace("\n", " <eos> ").split()]
    whole = build_lm(config, vocab_size=len(vocab), batch_size=1, num_steps=len(ids) - 1,
                     stateful=False)
    whole.set_weights(trained.get_weights())
    logits = np.asarray(whole(np.asarray([ids[:-1]], "int32")))[0]
    n_prime = len(prime.split())
    assert list(logits.argmax(-1)[n_prime - 1:]) == ids[n_prime:]


def test_cells_reach_the_same_perplexity_on_mini_ptb(ptb_dir, tmp_path):
    """fused, gate and keras cells are one function: equal seed and budget, equal result."""
    results = {}
    for cell in ("fused", "gate", "keras"):
        out = tmp_path / cell
        argv = ["--model", "ptb-small", "--cell", cell, "--hidden-size", "32", "--epochs", "1",
                "--steps-per-epoch", "60", "--data", "mini-ptb", "--data-dir", str(ptb_dir),
                "--output-dir", str(out), "--verbose", "0"]
        assert run_main(argv) == 0
        results[cell] = json.loads((out / "results.json").read_text())
    ppl = {c: r["history"]["val_perplexity"][-1] for c, r in results.items()}
    first = ppl["fused"]
    assert first < 0.5 * results["fused"]["vocab_size"], "the model learned something"
    for cell, value in ppl.items():
        assert value == pytest.approx(first, rel=0.02), ppl


def test_kill_and_resume_gives_the_uninterrupted_weights(tmp_path):
    import keras

    args = [*TINY, "--corpus-tokens", "30000", "--epochs", "3"]
    straight = tmp_path / "straight"
    done = run_script([*args, "--output-dir", str(straight)], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    resumed = tmp_path / "resumed"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args, "--output-dir",
                             str(resumed)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    history = resumed / "history.csv"
    # once one epoch finished: its CSV row is written before its backup
    code = sigkill_when(proc, (resumed / "backup" / "backup.json").is_file, timeout=240)
    assert code == -signal.SIGKILL, "the run must be killed mid-way"
    rows_at_kill = len(history.read_text().splitlines()) - 1
    assert 1 <= rows_at_kill < 3
    assert (resumed / "backup").is_dir()

    again = run_script([*args, "--output-dir", str(resumed)], timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    epochs = [line.split(",")[0] for line in history.read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2"]
    a = keras.saving.load_model(straight / "final.keras", compile=False).get_weights()
    b = keras.saving.load_model(resumed / "final.keras", compile=False).get_weights()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--model", "no-such-model"], "unknown model"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "-3"], "--batch-size"),
        (["--cell", "cudnn"], "--cell"),
        (["evaluate", "--checkpoint", "/nonexistent/best.keras"], "checkpoint not found"),
        (["generate"], "--checkpoint"),
    ],
)
def test_bad_values_exit_with_one_line(argv, needle):
    proc = run_script(argv, timeout=120)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_checkpoint_from_another_vocabulary_is_refused(tiny_run, capsys):
    code = run_main(["evaluate", "--checkpoint", str(tiny_run / "best.keras"),
                     "--corpus-tokens", "4000", "--corpus-vocab", "45"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another vocabulary" in err[0]


def test_data_too_small_for_the_batch_is_one_line(capsys, tmp_path):
    code = run_main([*TINY, "--batch-size", "500", "--num-steps", "50",
                     "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--batch-size 500" in err[0]


@pytest.mark.parametrize("model", ["text8-char", "text8-bigram"])
def test_character_models_train_and_sample(model, tmp_path, capsys):
    out = tmp_path / model
    argv = ["--model", model, "--corpus-tokens", "20000", "--steps-per-epoch", "15",
            "--epochs", "2", "--hidden-size", "16", "--output-dir", str(out), "--verbose", "0"]
    assert run_main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    # The text8 recipe: one "epoch" is steps_per_epoch steps of a continuing stream, plus
    # the notebook's last step (7,001 = 7 x 1,000 + 1) as a short third epoch; validation is
    # the notebook's, at batch 1, every epoch.
    assert results["history"]["learning_rate"] == pytest.approx([10.0, 10.0, 10.0])
    assert len(results["history"]["val_perplexity"]) == 3
    assert results["valid_method"].startswith("notebook")
    assert ("valid_overlap_perplexity" in results) == (model == "text8-bigram")
    assert results["perplexity_floor"] < results["test_perplexity"] < 27
    capsys.readouterr()
    text = _generate(out, capsys, "--prime", "th", "--temperature", "0")
    assert text.startswith("th") and len(text) == 2 + 79
    assert set(text) <= set(" abcdefghijklmnopqrstuvwxyz")
    code = run_main(["generate", "--checkpoint", str(out / "best.keras"), "--prime", "The"])
    assert code == 2 and "--prime" in capsys.readouterr().err


def test_mirror_seq2seq_trains_and_mirrors_from_the_command_line(tmp_path, capsys):
    from zoo.experiments.mirror_eval import mirror_sentence
    from zoo.models import mirror

    out = tmp_path / "mirror"
    argv = ["--model", "mirror-seq2seq", "--corpus-tokens", "1500", "--epochs", "1",
            "--hidden-size", "8", "--output-dir", str(out), "--verbose", "0"]
    assert run_main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["test_word_accuracy"] <= 1.0 and results["epochs_run"] == 1
    capsys.readouterr()

    ckpt = str(out / "best.keras")
    assert run_main(["mirror", "--checkpoint", ckpt, "the", "quick", "fox"]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    model = mirror.load_mirror(ckpt)
    assert printed == mirror_sentence(model, "the quick fox")
    assert run_main(["mirror", "--checkpoint", ckpt, "--beam-width", "2", "abc"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == mirror_sentence(model, "abc", beam_width=2)

    assert run_main(["mirror", "--checkpoint", ckpt, "The Fox"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a-z" in err[0]
    assert run_main(["mirror", "--checkpoint", ckpt, "ab " * 60]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(model.max_length) in err[0]

    assert run_main(["evaluate", "--checkpoint", ckpt, "--split", "test"]) == 0
    assert "sentences mirrored exactly" in capsys.readouterr().out
    for flag in (["--batch-size", "4"], ["--corpus-vocab", "50"]):  # they would be ignored
        assert run_main(["evaluate", "--checkpoint", ckpt, *flag]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {flag[0]} applies to language-model")


def test_small_model_comes_within_ten_percent_of_the_corpus_floor(tmp_path):
    """The acceptance bound itself, on a 30k-token corpus of 40 words (about 15 s)."""
    out = tmp_path / "floor"
    argv = ["--model", "ptb-small", "--hidden-size", "32", "--num-layers", "1", "--num-steps",
            "10", "--corpus-tokens", "30000", "--corpus-vocab", "40", "--epochs", "8",
            "--output-dir", str(out), "--verbose", "0"]
    assert run_main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    floor = results["perplexity_floor"]
    assert floor < results["test_perplexity"] < 1.10 * floor, (results["test_perplexity"], floor)


def test_rerunning_a_finished_run_keeps_its_history(tmp_path):
    out = tmp_path / "again"
    for _ in range(2):
        assert run_main([*TINY, "--epochs", "1", "--output-dir", str(out)]) == 0
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("0,"), rows
    assert run_main([*TINY, "--epochs", "1", "--output-dir", str(out), "--overwrite"]) == 0
    assert (out / "history.csv").read_text().splitlines() != rows, "--overwrite retrains"

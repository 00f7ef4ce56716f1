"""Tests of the mirror-seq2seq model (issue 7): learning, decoding, saving, bad input.

A tiny model trains on short sentences of 2–3 letter words and must beat the
copy-the-input baseline on fresh sentences; the metric for both is word
accuracy (a word is right when it equals the exactly mirrored word).
"""

import keras
import numpy as np
import pytest

from zoo.datasets import alphabet
from zoo.datasets import mirror as data
from zoo.datasets import mirror_text
from zoo.experiments.mirror_eval import evaluate_mirror, mirror_sentence, mirror_sentences
from zoo.experiments.train_mirror import train_mirror
from zoo.models import mirror

TINY = dict(units=32, embedding_dim=16, encoder_layers=1, max_length=12)


def short_sentences(n, seed):
    rng = np.random.default_rng(seed)
    letters = list("abcdef")
    out = []
    for _ in range(n):
        words = ["".join(rng.choice(letters, size=rng.integers(2, 4)))
                 for _ in range(rng.integers(1, 3))]
        out.append(" ".join(words))
    return out


@pytest.fixture(scope="module")
def trained():
    """A tiny fused-cell model trained for a few seconds of CPU on short inputs."""
    keras.utils.set_random_seed(0)
    model = mirror.build_mirror_model(cell="fused", learning_rate=1e-2, **TINY)
    ds = data.make_dataset(short_sentences(2048, seed=0), batch_size=32, max_length=12,
                           shuffle=True, seed=0)
    history = model.fit(ds, epochs=4, verbose=0, shuffle=False)
    return model, history.history


def test_tiny_model_beats_copy_baseline(trained):
    model, history = trained
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    test = short_sentences(200, seed=1)
    metrics = evaluate_mirror(model, test)
    # The baseline, computed independently: predict the input unchanged.
    copy = np.mean([w == w[::-1] for s in test for w in s.split()])
    assert metrics["copy_word_accuracy"] == pytest.approx(copy)
    assert metrics["word_accuracy"] > copy + 0.2, metrics
    assert metrics["sentence_accuracy"] > metrics["copy_sentence_accuracy"], metrics
    # The reported accuracy agrees with a direct decode.
    predictions = mirror_sentences(model, test)
    direct = np.mean([p == data.mirror_words(s) for s, p in zip(test, predictions)])
    assert metrics["sentence_accuracy"] == pytest.approx(direct)


def test_beam_search_scores_at_least_greedy_and_width_one_is_greedy(trained):
    model, _ = trained
    test = short_sentences(40, seed=2)
    greedy = mirror_sentences(model, test, beam_width=1)
    beam = mirror_sentences(model, test, beam_width=3)
    assert len(beam) == len(test) and all(isinstance(b, str) for b in beam)
    enc = data.encode_pairs(test, 12)[0][:, :7]
    np.testing.assert_array_equal(model._beam(enc, 1)[:, :4], model._greedy(enc)[:, :4])
    # Beam search maximises sequence log-probability: it never scores below greedy.
    def logprob(sentence, output):
        """Teacher-forced log-probability of `output` + end token (independent of decoding)."""
        enc1, _, _, n = data.encode_pairs([sentence], 12)
        ids = np.array([data.encode(output) + [data.END]])[:, : n[0]]
        dec = np.concatenate([[[data.START]], ids[:, :-1]], axis=1)
        logits = model((enc1[:, : n[0]], dec))
        logp = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, -1))[0]
        return sum(logp[t, i] for t, i in enumerate(ids[0]))
    for s, g, b in list(zip(test, greedy, beam))[:10]:
        if len(g) == len(s) and len(b) == len(s):
            assert logprob(s, b) >= logprob(s, g) - 1e-4


def test_keras_round_trip_decodes_identically(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "mirror.keras"
    model.save(path)
    loaded = mirror.load_mirror(path)
    assert isinstance(loaded, mirror.MirrorSeq2Seq)
    assert loaded.get_config() == model.get_config()
    test = short_sentences(30, seed=3)
    assert mirror_sentences(loaded, test) == mirror_sentences(model, test)
    assert (mirror_sentences(loaded, test, beam_width=2)
            == mirror_sentences(model, test, beam_width=2))
    enc, dec_in, _, _ = data.encode_pairs(test, 12)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded((enc, dec_in))),
                               keras.ops.convert_to_numpy(model((enc, dec_in))), atol=1e-6)


def test_gate_cell_is_selectable_and_saves(tmp_path):
    from zoo.layers import FusedLSTMCell, GateLSTMCell

    gate = mirror.build_mirror_model(cell="gate", **TINY)
    assert isinstance(gate.get_layer("decoder").cell, GateLSTMCell)
    fused = mirror.build_mirror_model(**TINY)
    assert isinstance(fused.get_layer("decoder").cell, FusedLSTMCell)  # the default
    assert isinstance(fused.get_layer("encoder_0").forward_layer.cell, FusedLSTMCell)
    gate.save(tmp_path / "g.keras")
    loaded = mirror.load_mirror(tmp_path / "g.keras")
    assert isinstance(loaded.get_layer("decoder").cell, GateLSTMCell)
    assert mirror_sentence(loaded, "ab cd") == mirror_sentence(gate, "ab cd")
    with pytest.raises(ValueError, match="`cell` must be one of"):
        mirror.build_mirror_model(cell="gru")


def test_bad_input_is_refused_with_clear_errors():
    model = mirror.build_mirror_model(**TINY)
    with pytest.raises(ValueError, match=r"only lowercase a-z and spaces; found \['T'\]"):
        mirror_sentence(model, "The fox")
    with pytest.raises(ValueError, match=r"at most 12 characters \(max_length=12\)"):
        mirror_sentence(model, "the quick brown fox")
    with pytest.raises(ValueError, match="beam_width"):
        mirror_sentence(model, "fox", beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        evaluate_mirror(model, ["a", "abcdefghijklm"])


def test_train_mirror_writes_checkpoints_and_reports(tmp_path):
    text = "\n".join(short_sentences(300, seed=4))
    result = train_mirror(
        str(tmp_path), text=text, epochs=1, batch_size=32, units=8, embedding_dim=8,
        encoder_layers=1, max_words=2, max_length=12, augment=0, verbose=0, cell="fused")
    for name in ("best.keras", "final.keras", "history.csv", "results.json", "zoo_meta.json"):
        assert (tmp_path / name).is_file(), name
    assert result["epochs_run"] == 1 and result["train_seconds"] > 0
    assert 0.0 <= result["test_word_accuracy"] <= 1.0
    assert result["test_sentences"] == result["valid_sentences"] - result[
        "test_removed_seen_or_too_long"]
    log = (tmp_path / "history.csv").read_text().splitlines()
    assert log[0].startswith("epoch") and len(log) == 2
    assert mirror.load_mirror(result["checkpoint"]).max_length == 12


def test_the_model_and_the_data_agree_on_the_vocabulary():
    from zoo.models import mirror_decoding
    from zoo.models.configs import MirrorConfig

    assert (mirror_decoding.PAD, mirror_decoding.START, mirror_decoding.END) == (
        data.PAD, data.START, data.END)
    assert mirror.VOCAB_SIZE == data.VOCAB_SIZE == 3 + len(alphabet.ALPHABET)
    model = mirror.MirrorSeq2Seq(units=4, embedding_dim=3, encoder_layers=1, cell="keras")
    assert model.vocab_size == data.VOCAB_SIZE
    assert model.max_length == MirrorConfig().max_length == mirror_text.DEFAULT_MAX_LENGTH


def test_train_mirror_refuses_bad_settings_before_writing_anything(tmp_path):
    from zoo.models import get_config

    with pytest.raises(ValueError, match="Argument `config` must be a MirrorConfig. "
                                         "Received: config=LMConfig"):
        train_mirror(str(tmp_path / "a"), config=get_config("ptb-small"))
    with pytest.raises(ValueError, match=r"Argument `epochs` must be a positive integer\. "
                                         r"Received: epochs=0"):
        train_mirror(str(tmp_path / "b"), config=get_config("mirror-seq2seq"), epochs=0)
    with pytest.raises(ValueError, match=r"Argument `max_minutes` must be a finite number > 0"):
        train_mirror(str(tmp_path / "c"), max_minutes=0)
    assert list(tmp_path.iterdir()) == []

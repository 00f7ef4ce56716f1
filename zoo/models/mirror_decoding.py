"""Decoding and scoring of a `MirrorSeq2Seq`: greedy decoding, beam search, word accuracy.

`MirrorSeq2Seq.mirror` decodes with `greedy_decode` or `beam_decode`; `mirror_sentence`,
`mirror_sentences` and `evaluate_mirror` are the functions the CLI and the experiments use
(all importable from `zoo.models.mirror`).
"""

import time

import numpy as np
from keras import ops

from zoo.datasets import mirror as data


def greedy_decode(model, enc):
    """Greedy decoding of encoder ids `enc` `(batch, steps)`: output ids `(batch, steps)`."""
    batch, steps = enc.shape
    encoder_states, keys, encoder_mask = model._encode(enc)
    states = model._initial_states(batch)
    prev = np.full((batch,), data.START, np.int32)
    result = np.zeros((batch, steps), np.int32)
    done = np.zeros((batch,), bool)
    for t in range(steps):
        logp, states = model._step(prev, states, encoder_states[:, t],
                                   encoder_states, keys, encoder_mask)
        prev = np.argmax(ops.convert_to_numpy(logp), axis=-1).astype(np.int32)
        prev[done] = data.PAD
        result[:, t] = prev
        done |= prev == data.END
        if done.all():
            break
    return result


def beam_decode(model, enc, k):
    """Beam search of width `k` over encoder ids `enc`: the best output ids per sentence."""
    batch, steps = enc.shape
    encoder_states, keys, encoder_mask = model._encode(enc)
    # Every sentence gets k beams: rows b*k .. b*k+k-1.
    rep = np.repeat(np.arange(batch), k)
    encoder_states = ops.take(encoder_states, rep, axis=0)
    keys = ops.take(keys, rep, axis=0)
    encoder_mask = ops.take(encoder_mask, rep, axis=0)
    states = model._initial_states(batch * k)
    prev = np.full((batch * k,), data.START, np.int32)
    scores = np.tile(np.array([0.0] + [-np.inf] * (k - 1)), batch)  # one live beam at t=0
    history = np.zeros((batch * k, 0), np.int32)
    done = np.zeros((batch * k,), bool)
    vocab = model.vocab_size
    for t in range(steps):
        logp, states = model._step(prev, states, encoder_states[:, t],
                                   encoder_states, keys, encoder_mask)
        logp = ops.convert_to_numpy(logp).astype(np.float64)
        # A finished beam only extends with padding, at no cost.
        logp[done] = -np.inf
        logp[done, data.PAD] = 0.0
        total = (scores[:, None] + logp).reshape(batch, k * vocab)
        best = np.argsort(-total, axis=1, kind="stable")[:, :k]
        parent = (best // vocab + np.arange(batch)[:, None] * k).reshape(-1)
        token = (best % vocab).reshape(-1).astype(np.int32)
        scores = np.take_along_axis(total, best, axis=1).reshape(-1)
        history = np.concatenate([history[parent], token[:, None]], axis=1)
        done = done[parent] | (token == data.END) | (token == data.PAD)
        states = [ops.take(s, parent, axis=0) for s in states]
        prev = token
        if done.all():
            break
    top = np.argmax(scores.reshape(batch, k), axis=1) + np.arange(batch) * k
    return history[top]


def mirror_sentence(model, sentence, beam_width=1):
    """Mirrors one sentence with a trained model.

    Args:
        model: a `MirrorSeq2Seq`.
        sentence: str, lowercase a–z and spaces, at most `model.max_length` characters.
        beam_width: int, 1 for greedy decoding, k > 1 for beam search.

    Returns:
        str, e.g. `"eht kciuq nworb xof"` for `"the quick brown fox"`.

    Raises:
        ValueError: on characters outside a–z/space, or on a too-long sentence.
    """
    return model.mirror([sentence], beam_width=beam_width)[0]


def mirror_sentences(model, sentences, beam_width=1, batch_size=256):
    """Mirrors a list of sentences (batched); see `mirror_sentence`."""
    return model.mirror(sentences, beam_width=beam_width, batch_size=batch_size)


def _score(sentences, predictions):
    words = correct_words = correct = 0
    for sentence, pred in zip(sentences, predictions):
        target = data.mirror_words(sentence).split(" ")
        got = pred.split(" ")
        words += len(target)
        correct_words += sum(a == b for a, b in zip(target, got))
        correct += int(got == target)
    return {
        "word_accuracy": correct_words / max(words, 1),
        "sentence_accuracy": correct / max(len(sentences), 1),
        "sentences": len(sentences),
        "words": words,
    }


def evaluate_mirror(model, sentences, beam_width=1, batch_size=512):
    """Word and sentence accuracy of decoded mirrors against `mirror_words`.

    A word counts as right when the decoded word at the same position equals
    the mirrored word; a sentence when all of its words are right (and there
    are no extra words).

    Args:
        model: a `MirrorSeq2Seq`.
        sentences: list of text8-style str.
        beam_width: int, decoding beam width. Defaults to `1` (greedy).
        batch_size: int, sentences decoded together.

    Returns:
        dict with `word_accuracy`, `sentence_accuracy`, `sentences`, `words`,
        `seconds`, and the same two accuracies for the copy-the-input baseline
        (`copy_word_accuracy`, `copy_sentence_accuracy`).
    """
    sentences = [data.check_sentence(s, model.max_length) for s in sentences]
    start = time.perf_counter()
    predictions = mirror_sentences(model, sentences, beam_width, batch_size)
    result = _score(sentences, predictions)
    result["seconds"] = time.perf_counter() - start
    copy = _score(sentences, sentences)
    result["copy_word_accuracy"] = copy["word_accuracy"]
    result["copy_sentence_accuracy"] = copy["sentence_accuracy"]
    return result

"""Mirroring sentences with a trained `MirrorSeq2Seq`, and scoring it.

Strings meet the model here: `zoo.datasets.mirror` checks and encodes the sentences, the
model decodes ids (`MirrorSeq2Seq.decode_ids`: greedy or beam search), and the ids become
text again. `evaluate_mirror` scores the decoded words against `mirror_words`.
"""

import time

from zoo import checks
from zoo.datasets import mirror as data


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
    return mirror_sentences(model, [sentence], beam_width=beam_width)[0]


def mirror_sentences(model, sentences, beam_width=1, batch_size=256):
    """Mirrors sentences by greedy decoding (`beam_width=1`) or beam search.

    Args:
        model: a `MirrorSeq2Seq`.
        sentences: list of str, text8-style sentences (see
            `zoo.datasets.mirror.check_sentence`).
        beam_width: int, the beam width k; `1` is greedy. Defaults to `1`.
        batch_size: int, sentences decoded together. Defaults to `256`.

    Returns:
        list of str, the decoded sentences.

    Raises:
        ValueError: on characters outside a–z/space or a sentence longer than
            `model.max_length`.
    """
    checks.positive_int("beam_width", beam_width)
    checks.positive_int("batch_size", batch_size)
    if isinstance(sentences, str):
        checks.invalid("sentences", "a list of str (`mirror_sentence` takes one)", sentences)
    sentences = [data.check_sentence(s, model.max_length) for s in sentences]
    out = []
    for i in range(0, len(sentences), batch_size):
        enc, _, _, lengths = data.encode_pairs(sentences[i : i + batch_size], model.max_length)
        ids = model.decode_ids(enc[:, : int(lengths.max())], beam_width)
        out.extend(data.decode(row) for row in ids)
    return out


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

"""Tests of zoo.datasets.mirror: text8-style text, word mirroring, the tf.data pipeline."""

import numpy as np
import pytest

from zoo.datasets import mirror as data
from zoo.datasets import mirror_text
from zoo.datasets.alphabet import to_text8


def test_mirror_words_reverses_each_word_in_place():
    assert data.mirror_words("the quick brown fox") == "eht kciuq nworb xof"
    assert data.mirror_words("a") == "a"
    # An involution: mirroring twice gives the sentence back.
    s = "mirror every single word"
    assert data.mirror_words(data.mirror_words(s)) == s


def test_normalize_is_the_documented_text8_mapping():
    assert to_text8("The  <unk> cost $N, isn't it?\n") == "the unk cost n isn t it"
    assert to_text8("Émile 42") == "mile"  # non a-z letters become spaces
    assert to_text8("!!!") == ""


def test_normalize_is_the_one_text8_normaliser():

    texts = ["", "  ", "Hello, World!", "ÀÉÎõü ß café", "tab\tand\r\nnewlines\n",
             "<unk> N N <eos>", "MiXeD123case_under-score", "\u00a0nbsp\u2003em space",
             "a" * 50 + "!?" + "B" * 3, "日本語 text", "already text eight"]
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ 09!,.\n\té-_<>")
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(0, 40)))) for _ in range(200)]
    for text in texts:
        got = to_text8(text)
        assert got == to_text8(text), text
        # Independently: lowercase a-z words, everything else a separator.
        words = "".join(c if "a" <= c <= "z" else " " for c in text.lower()).split()
        assert got == " ".join(words), text


def test_mirror_splits_hold_out_and_keep_seen_sentences_out_of_test():
    text = mirror_text.random_word_text(600, seed=5)
    sentences = mirror_text.split_sentences(text, max_words=3)
    plain = mirror_text.mirror_splits(text, max_words=3, augment=0, seed=1)
    assert len(plain.valid) == len(sentences) // 10  # 10% held out
    assert sorted(plain.train + plain.valid) == sorted(sentences)
    assert set(plain.test) <= set(plain.valid) and not set(plain.test) & set(plain.train)
    assert plain.removed == len(plain.valid) - len(plain.test)
    augmented = mirror_text.mirror_splits(text, max_words=3, augment=2, seed=1)
    assert augmented.valid == plain.valid and len(augmented.train) > len(plain.train)
    assert not (set(augmented.train) - set(plain.train)) & set(plain.valid)
    lines = text.splitlines()
    given = mirror_text.mirror_splits("\n".join(lines[:20]), "\n".join(lines[20:25]),
                               "\n".join(lines[25:]), max_words=3, max_length=12, augment=0)
    assert given.train == [s for s in mirror_text.split_sentences(lines[:20], 3) if len(s) <= 12]
    assert given.valid == [s for s in mirror_text.split_sentences(lines[20:25], 3) if len(s) <= 12]
    assert all(len(s) <= 12 for s in given.train + given.valid + given.test)
    assert given.test and not set(given.test) & set(given.train)


def test_check_sentence_refuses_bad_characters_with_one_clear_error():
    with pytest.raises(ValueError, match=r"only lowercase a-z and spaces; found \['!', 'H'\]"):
        data.check_sentence("Hello world!")
    with pytest.raises(ValueError, match="to_text8"):
        data.check_sentence("abc1")
    with pytest.raises(ValueError, match="must be a sentence with at least one word"):
        data.check_sentence("   ")
    assert data.check_sentence("  two   spaces ") == "two spaces"


def test_check_sentence_refuses_too_long_input_naming_the_limit():
    with pytest.raises(ValueError, match=r"12 characters .* at most 10 characters \(max_length=10\)"):
        data.check_sentence("abcdef ghijk", max_length=10)
    assert data.check_sentence("abcdef ghi", max_length=10) == "abcdef ghi"


def test_vocabulary_round_trip_and_special_tokens():
    assert data.VOCAB_SIZE == 30
    ids = data.encode("zebra crossing")
    assert min(ids) >= 3 and data.PAD not in ids
    assert data.decode(ids + [data.END, 5, 6]) == "zebra crossing"
    assert data.decode([data.START] + ids) == "zebra crossing"


def test_split_sentences_cuts_lines_into_at_most_max_words():
    text = "One two three four five\nsix, seven!\n\n"
    assert mirror_text.split_sentences(text, max_words=2) == ["one two", "three four", "five",
                                                              "six seven"]
    rand = mirror_text.split_sentences(text * 20, max_words=3, random_lengths=True, seed=1)
    assert all(1 <= len(s.split()) <= 3 for s in rand)
    assert " ".join(rand) == " ".join(mirror_text.split_sentences(text * 20, max_words=100))
    assert len({len(s.split()) for s in rand}) > 1
    with pytest.raises(ValueError, match="max_words"):
        mirror_text.split_sentences(text, max_words=0)


def test_encode_pairs_aligns_source_and_mirrored_target():
    enc, dec_in, dec_out, lengths = data.encode_pairs(["ab cd", "xyz"], max_length=6)
    assert enc.shape == (2, 7) and lengths.tolist() == [6, 4]
    assert data.decode(enc[0]) == "ab cd" and enc[0, 5] == data.END
    assert dec_in[0, 0] == data.START and data.decode(dec_in[0, 1:]) == "ba dc"
    assert data.decode(dec_out[0]) == "ba dc" and dec_out[0, 5] == data.END
    # Teacher forcing: the decoder input is the target shifted right by one.
    np.testing.assert_array_equal(dec_in[:, 1:], np.where(dec_out[:, :-1] == data.END, 0, dec_out[:, :-1]))
    assert (enc[1, 4:] == data.PAD).all()
    with pytest.raises(ValueError, match="max_length=6"):
        data.encode_pairs(["abcdefg"], max_length=6)


def test_make_dataset_pads_per_batch():
    sentences = ["the quick brown fox", "a b", "jumps"]
    ds = data.make_dataset(sentences, batch_size=2, max_length=30)
    batches = list(ds)
    (enc, dec_in), target = batches[0]
    assert enc.shape == dec_in.shape == target.shape == (2, 20)  # 19 chars + end
    assert data.decode(target.numpy()[1]) == "a b" and target.numpy()[1, 4:].tolist() == [0] * 16
    (enc, _), _ = batches[1]
    assert enc.shape == (1, 6)
    with pytest.raises(ValueError, match="at most 10 characters"):
        data.make_dataset(sentences, max_length=10)


def test_random_word_text_is_text8_style_and_seeded():
    text = mirror_text.random_word_text(500, seed=3)
    assert text == mirror_text.random_word_text(500, seed=3)
    words = text.split()
    assert len(words) == 500 and to_text8(text) == " ".join(words)


def test_ptb_lines_become_text8_sentences(ptb_dir):
    sentences = mirror_text.split_sentences(mirror_text.read_text(ptb_dir / "ptb.valid.txt"),
                                            max_words=10)
    assert len(sentences) > 7000
    assert all(1 <= len(s.split()) <= 10 for s in sentences)
    assert all(data.check_sentence(s) == s for s in sentences)
    assert "unk" in " ".join(sentences[:50]).split()

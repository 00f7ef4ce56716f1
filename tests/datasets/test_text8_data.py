"""zoo.datasets.text8 on text8-style text made from real PTB text."""

import warnings
import zipfile

import numpy as np
import pytest

from zoo.datasets import alphabet
from zoo.datasets import text8
from zoo.datasets import text8_pipeline

ALPHABET = " abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def ptb_chars(ptb_dir):
    """A text8-style string of about 380k characters (ptb.valid.txt)."""
    return alphabet.to_text8((ptb_dir / "ptb.valid.txt").read_text(encoding="utf-8"))


def expected_steps(text, batch_size, first, count):
    """Independent model of the notebook's cursors: row b, step t → text[(b·seg + t) % n]."""
    n, seg = len(text), len(text) // batch_size
    return np.array([[ALPHABET.index(text[(b * seg + t) % n]) for t in range(first, first + count)]
                     for b in range(batch_size)], dtype=np.int32)


def generator_ids(gen):
    return np.stack([b.argmax(1) for b in gen.next()], axis=1)  # [batch, U + 1]


def test_char_ids_round_trip_and_unexpected_counted_once():
    assert [alphabet.char2id(c) for c in ALPHABET] == list(range(27))
    assert "".join(alphabet.id2char(i) for i in range(27)) == ALPHABET
    assert alphabet.char2id("É") == 0 and alphabet.char2id("!") == 0
    with pytest.raises(ValueError, match=r"^Argument `i` must be an int in \[0, 27\)\. "
                                         r"Received: i=27$"):
        alphabet.id2char(27)
    with pytest.raises(ValueError, match="single character"):
        alphabet.char2id("ab")
    with pytest.warns(UserWarning, match="3 characters outside a-z") as record:
        ids, bad = alphabet.text_to_ids("a,b! zé")
    assert len(record) == 1  # one warning, not one per character
    assert ids.tolist() == [1, 0, 2, 0, 0, 26, 0] and bad == 3 and ids.dtype == np.int32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids, bad = alphabet.text_to_ids("hello world")
    assert bad == 0 and alphabet.ids_to_text(ids) == "hello world"


def test_to_text8_on_ptb(ptb_chars, ptb_dir):
    assert set(ptb_chars) <= set(ALPHABET)
    assert "  " not in ptb_chars and ptb_chars == ptb_chars.strip()
    assert alphabet.to_text8(ptb_chars) == ptb_chars
    assert ptb_chars.startswith("consumers may want to move their telephones")
    # Words are PTB's words with non-letters split off: same letters in the same order.
    raw = (ptb_dir / "ptb.valid.txt").read_text(encoding="utf-8").lower()
    assert ptb_chars.replace(" ", "") == "".join(c for c in raw if "a" <= c <= "z")


def test_batch_generator_notebook_semantics(ptb_chars):
    batch_size, unroll = 16, 7
    gen = text8_pipeline.BatchGenerator(ptb_chars, batch_size, unroll)
    for k in range(4):
        batches = gen.next()
        assert len(batches) == unroll + 1
        assert all(b.shape == (batch_size, 27) and b.dtype == np.float32 for b in batches)
        assert all(np.all(b.sum(1) == 1) for b in batches)
        ids = np.stack([b.argmax(1) for b in batches], axis=1)
        np.testing.assert_array_equal(ids, expected_steps(ptb_chars, batch_size, k * unroll,
                                                          unroll + 1))


def test_batch_generator_wraps_around_the_text():
    gen = text8_pipeline.BatchGenerator("abcdefgh", batch_size=2, num_unrollings=2)
    got = [text8_pipeline.batches2string(gen.next()) for _ in range(3)]
    assert got == [["abc", "efg"], ["cde", "gha"], ["efg", "abc"]]


@pytest.mark.parametrize("batch_size,unroll", [(64, 10), (5, 3)])
def test_dataset_equals_batch_generator(ptb_chars, batch_size, unroll):
    gen = text8_pipeline.BatchGenerator(ptb_chars, batch_size, unroll)
    ds = text8_pipeline.text8_dataset(ptb_chars, batch_size, unroll, steps=5)
    assert [tuple(s.shape) for s in ds.element_spec] == [(batch_size, unroll)] * 2
    assert [s.dtype.name for s in ds.element_spec] == ["int32"] * 2
    count = 0
    for x, y in ds:
        window = generator_ids(gen)
        np.testing.assert_array_equal(x.numpy(), window[:, :unroll])
        np.testing.assert_array_equal(y.numpy(), window[:, 1:])
        count += 1
    assert count == 5


def test_dataset_follows_generator_past_one_epoch():
    text = "the quick brown fox jumps over the lazy dog and runs"
    batch_size, unroll = 4, 3
    epoch = text8_pipeline.char_epoch_size(len(text), batch_size, unroll)
    assert epoch == ((len(text) // batch_size) - 1) // unroll
    assert len(list(text8_pipeline.text8_dataset(text, batch_size, unroll))) == epoch
    gen = text8_pipeline.BatchGenerator(text, batch_size, unroll)
    for x, y in text8_pipeline.text8_dataset(text, batch_size, unroll, steps=3 * epoch + 2):
        window = generator_ids(gen)  # the generator wraps at the end of the text
        np.testing.assert_array_equal(x.numpy(), window[:, :unroll])
        np.testing.assert_array_equal(y.numpy(), window[:, 1:])


def test_bigram_variant_lines_up(ptb_chars):
    batch_size, unroll = 8, 6
    gen = text8_pipeline.BatchGenerator(ptb_chars, batch_size, unroll)
    ds = text8_pipeline.text8_dataset(ptb_chars, batch_size, unroll, bigram=True, steps=4)
    assert [tuple(s.shape) for s in ds.element_spec] == [(batch_size, unroll + 1),
                                                         (batch_size, unroll)]
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    windows = [generator_ids(gen) for _ in range(5)]
    for k, (x, y) in enumerate(batches):
        np.testing.assert_array_equal(x, windows[k])  # all U + 1 steps of call k
        # pair (x[t], x[t + 1]) predicts step t + 2: inside the window, then the next call's step 1
        np.testing.assert_array_equal(y[:, : unroll - 1], x[:, 2:])
        np.testing.assert_array_equal(y[:, -1], windows[k + 1][:, 1])
        np.testing.assert_array_equal(
            y, expected_steps(ptb_chars, batch_size, k * unroll + 2, unroll))
    for (x0, _), (x1, _) in zip(batches, batches[1:]):  # next pairs start where these ended
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1])
    n = len(ptb_chars)
    assert text8_pipeline.char_epoch_size(n, 8, 6, bigram=True) == (n // 8 - 2) // 6


def test_rows_continue_across_batches(ptb_chars):
    batch_size, unroll = 32, 10
    batches = [(x.numpy(), y.numpy())
               for x, y in text8_pipeline.text8_dataset(ptb_chars, batch_size, unroll)]
    assert len(batches) == text8_pipeline.char_epoch_size(len(ptb_chars), batch_size, unroll)
    seg = len(ptb_chars) // batch_size
    ids, _ = alphabet.text_to_ids(ptb_chars)
    xs = np.concatenate([x for x, _ in batches], axis=1)
    for b in range(batch_size):  # one epoch: each row reads its own segment, in order
        np.testing.assert_array_equal(xs[b], ids[b * seg: b * seg + xs.shape[1]])
    for (_, y0), (x1, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(x1[:, 0], y0[:, -1])
    gen = text8_pipeline.BatchGenerator(ptb_chars, batch_size, unroll)
    previous = gen.next()
    for _ in range(3):
        current = gen.next()
        np.testing.assert_array_equal(current[0], previous[-1])
        previous = current


def test_load_text8_local_files_and_errors(tmp_path, ptb_chars):
    zpath = tmp_path / "text8.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("text8", ptb_chars)
    train, valid = text8.load_text8(zpath)
    assert valid == ptb_chars[:1000] and train == ptb_chars[1000:]
    (tmp_path / "chars.txt").write_text(ptb_chars, encoding="utf-8")
    train, valid = text8.load_text8(tmp_path / "chars.txt", valid_size=10)
    assert valid + train == ptb_chars and len(valid) == 10

    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("notes.txt", "abc")
    with pytest.raises(ValueError, match="has no member 'text8'.*member="):
        text8.load_text8(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError, match="No such file"):
        text8.load_text8(tmp_path / "missing.zip")
    (tmp_path / "bad.txt").write_bytes(b"abc \xff\xfe def")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        text8.load_text8(tmp_path / "bad.txt", valid_size=1)
    with pytest.raises(ValueError, match=r"`valid_size` must be an integer >= 0\. "
                                         r"Received: valid_size=-1"):
        text8.load_text8(tmp_path / "chars.txt", valid_size=-1)
    with pytest.raises(ValueError, match=r"^Argument `valid_size` must be less than the .* "
                                         r"\(it leaves no training text\)\. "
                                         r"Received: valid_size=1000$"):
        text8.load_text8(tmp_path / "other.zip", member="notes.txt")
    with pytest.raises(ValueError, match="batch_size × num_unrollings larger than the data"):
        text8_pipeline.text8_dataset("abcdefgh", 4, 2)
    with pytest.raises(ValueError, match=r"`steps` must be a positive integer\. Received: steps=0"):
        text8_pipeline.text8_dataset("abcdefgh", 2, 2, steps=0)
    with pytest.raises(ValueError, match=r"^Argument `text_or_ids` must be character ids in "
                                         r"\[0, 27\)\. Received: text_or_ids=ids in \[1, 30\]$"):
        text8_pipeline.text8_dataset(np.array([1, 30, 2]), 1, 1)

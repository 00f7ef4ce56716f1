"""zoo.datasets.ptb on real PTB text (mini-PTB from the shared data)."""

import collections
import json

import numpy as np
import pytest

from zoo.datasets import ptb
from zoo.datasets import ptb_pipeline
from zoo.datasets import vocabulary

# The TensorFlow tutorial's reader test (see CONVENTIONS.md, "Golden batches").
GOLDEN_IDS = [4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1]
GOLDEN = [
    ([[4, 3], [5, 6], [1, 0]], [[3, 2], [6, 1], [0, 3]]),
    ([[2, 1], [1, 1], [3, 4]], [[1, 0], [1, 1], [4, 1]]),
]
SHAPES = [(20, 20), (20, 35), (7, 13), (64, 5), (1, 300)]


@pytest.fixture(scope="module")
def mini(ptb_dir):
    return ptb.load_mini_ptb(ptb_dir)


def dataset_batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_golden_batches_iterator_and_dataset():
    got_it = [(x.tolist(), y.tolist()) for x, y in ptb_pipeline.ptb_iterator(GOLDEN_IDS, 3, 2)]
    got_ds = [(x.tolist(), y.tolist())
              for x, y in dataset_batches(ptb_pipeline.ptb_dataset(GOLDEN_IDS, 3, 2))]
    assert got_it == GOLDEN
    assert got_ds == GOLDEN


def test_read_words_matches_readme_counts(ptb_dir):
    words = ptb.read_words(ptb_dir / "ptb.valid.txt")
    assert len(words) == 73_760  # shared/data/README.md
    assert words.count(ptb.EOS) == 3_370  # one per line
    assert words[:3] == ["consumers", "may", "want"]
    # Same tokens as the tutorial's own expression on PTB-formatted text.
    text = (ptb_dir / "ptb.valid.txt").read_text(encoding="utf-8")
    assert words == text.replace("\n", "<eos>").split()


def tutorial_read_words(path):
    """The TensorFlow tutorial reader's `_read_words` (reader.py), for Python 3."""
    with open(path, "rb") as f:
        return f.read().decode("utf-8").replace("\n", "<eos>").split()


@pytest.mark.parametrize(
    "name", ["ptb.valid.txt", "ptb.test.txt", "ptb.char.valid.txt", "ptb.char.test.txt"]
)
def test_read_words_is_the_tutorial_reader_on_every_ptb_file(ptb_dir, name):
    assert ptb.read_words(ptb_dir / name) == tutorial_read_words(ptb_dir / name)


@pytest.mark.parametrize(
    "text",
    [" a b \n c \n ", " a b \n c \n \t \n", " a \n \n b \n", " a \r\n b \r\n", " a \x0c b \n"],
)
def test_read_words_is_the_tutorial_reader_on_whitespace_edges(tmp_path, text):
    # The PTB character files end in "\n ": the blank remainder is no extra line.
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    assert ptb.read_words(path) == tutorial_read_words(path)


def test_read_words_without_trailing_newline(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("a b\nc", encoding="utf-8")
    assert ptb.read_words(path) == ["a", "b", "<eos>", "c", "<eos>"]


def test_mini_ptb_split_and_vocab_order(ptb_dir, mini):
    train_words = ptb.read_words(ptb_dir / "ptb.valid.txt")
    test_lines = (ptb_dir / "ptb.test.txt").read_text(encoding="utf-8").splitlines()
    valid_words = " <eos> ".join(test_lines[:1880]).split() + ["<eos>"]
    test_words = " <eos> ".join(test_lines[1880:]).split() + ["<eos>"]
    assert len(test_lines) == 1880 + 1881
    assert (len(mini.train), len(mini.valid), len(mini.test)) == (
        len(train_words), len(valid_words), len(test_words))
    assert len(mini.valid) + len(mini.test) == 82_430

    counts = collections.Counter(train_words)
    vocab = mini.vocab
    assert len(vocab) == len(counts)  # the train text has <unk>: nothing added
    keys = [(-counts[w], w) for w in vocab.id_to_word]
    assert keys == sorted(keys)
    assert vocab.id_to_word[:3] == ["the", "<unk>", "<eos>"]
    assert vocab.counts == [counts[w] for w in vocab.id_to_word]
    assert vocab.decode(mini.train) == train_words

    oov_valid = sum(w not in counts for w in valid_words)
    oov_test = sum(w not in counts for w in test_words)
    assert mini.oov == {"train": 0, "valid": oov_valid, "test": oov_test}
    assert 0.03 < oov_test / len(test_words) < 0.05  # "about 4%" (README)
    decoded = vocab.decode(mini.valid)
    assert decoded == [w if w in counts else "<unk>" for w in valid_words]
    assert mini.train.dtype == mini.valid.dtype == mini.test.dtype == np.int32


def test_vocabulary_unk_added_encode_decode_and_json(tmp_path):
    vocab = vocabulary.Vocabulary.build("b a b c <eos> a b".split())
    assert vocab.id_to_word == ["b", "a", "<eos>", "c", "<unk>"]  # <unk>: count 0, last
    assert vocab.word_to_id["<unk>"] == 4 and len(vocab) == 5
    ids, oov = vocab.encode(["a", "zebra", "c", "yak"], return_oov=True)
    assert ids.dtype == np.int32 and ids.tolist() == [1, 4, 3, 4] and oov == 2
    assert vocab.decode(ids) == ["a", "<unk>", "c", "<unk>"]

    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["id_to_word"] == vocab.id_to_word
    loaded = vocabulary.Vocabulary.load(path)
    assert loaded == vocab and loaded.counts == vocab.counts
    assert loaded != vocabulary.Vocabulary.build("b a".split())
    with pytest.raises(ValueError, match=r"ids.*\[0, 5\)"):
        vocab.decode([5])
    with pytest.raises(ValueError, match="list of tokens"):
        vocab.encode("a b")
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a vocabulary"):
        vocabulary.Vocabulary.load(tmp_path / "bad.json")


@pytest.mark.parametrize("batch_size,num_steps", SHAPES)
def test_dataset_equals_iterator_on_mini_ptb(mini, batch_size, num_steps):
    ids = mini.train
    expected = list(ptb_pipeline.ptb_iterator(ids, batch_size, num_steps))
    size = ptb_pipeline.epoch_size(len(ids), batch_size, num_steps)
    assert size == ((len(ids) // batch_size) - 1) // num_steps == len(expected)
    ds = ptb_pipeline.ptb_dataset(ids, batch_size, num_steps)
    for spec in ds.element_spec:
        assert tuple(spec.shape) == (batch_size, num_steps) and spec.dtype.name == "int32"
    got = dataset_batches(ds)
    assert len(got) == size
    for (x, y), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)
    assert len(dataset_batches(ds)) == size  # a second pass (epoch) gives the same count


@pytest.mark.parametrize("pipeline", ["iterator", "dataset"])
def test_rows_continue_across_batches(mini, pipeline):
    ids, batch_size, num_steps = mini.valid, 8, 25
    batches = (list(ptb_pipeline.ptb_iterator(ids, batch_size, num_steps)) if pipeline == "iterator"
               else dataset_batches(ptb_pipeline.ptb_dataset(ids, batch_size, num_steps)))
    batch_len = len(ids) // batch_size
    xs = np.concatenate([x for x, _ in batches], axis=1)
    ys = np.concatenate([y for _, y in batches], axis=1)
    span = len(batches) * num_steps
    for b in range(batch_size):  # row b reads one contiguous stretch of the text
        np.testing.assert_array_equal(xs[b], ids[b * batch_len: b * batch_len + span])
        np.testing.assert_array_equal(ys[b], ids[b * batch_len + 1: b * batch_len + span + 1])
    for (x0, y0), (x1, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(x1[:, 0], y0[:, -1])


def test_bad_input_errors(tmp_path, mini):
    with pytest.raises(ValueError, match="batch_size × num_steps larger than the data"):
        ptb_pipeline.epoch_size(100, 10, 10)
    with pytest.raises(ValueError, match="batch_size × num_steps larger than the data"):
        next(ptb_pipeline.ptb_iterator(mini.train[:50], 10, 5))
    with pytest.raises(ValueError, match="batch_size × num_steps larger than the data"):
        ptb_pipeline.ptb_dataset(mini.train, 1000, 100)
    with pytest.raises(ValueError,
                       match=r"`num_steps` must be a positive integer\. Received: num_steps=0"):
        ptb_pipeline.epoch_size(100, 2, 0)
    with pytest.raises(ValueError, match=r"^Argument `ids` must be 1-D\. "
                                         r"Received: ids=array of shape"):
        ptb_pipeline.ptb_dataset(np.zeros((4, 4), np.int32), 2, 2)
    with pytest.raises(FileNotFoundError, match="No such file"):
        ptb.read_words(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        ptb.read_words(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8.*byte 3"):
        ptb.read_words(tmp_path / "latin1.txt")
    (tmp_path / "ptb.train.txt").write_text(" a b \n", encoding="utf-8")
    (tmp_path / "ptb.valid.txt").write_text(" a \n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"no ptb\.test\.txt.*as `data_dir`"):
        ptb.load_ptb(data_dir=tmp_path)
    (tmp_path / "ptb.test.txt").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="ptb.test.txt' is empty"):
        ptb.load_ptb(data_dir=tmp_path)
    (tmp_path / "ptb.test.txt").write_text(" a c \n", encoding="utf-8")
    data = ptb.load_ptb(data_dir=tmp_path)
    assert data.oov == {"train": 0, "valid": 0, "test": 1}
    assert data.vocab.decode(data.test) == ["a", "<unk>", "<eos>"]

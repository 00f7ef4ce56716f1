"""Penn Treebank word-level language-modelling data.

The classic `simple-examples` PTB text (one sentence a line, 10k-word
vocabulary, rare words already `<unk>`) read with the TensorFlow tutorial's
semantics, and batched exactly as its `ptb_iterator`:

- `read_words(path)`: tokens of a file, every newline becomes `<eos>`.
- `load_ptb(data_dir=None)`: the three splits as int32 id arrays, from a local
  directory or from the canonical `simple-examples.tgz` via `keras.utils.get_file`.
- `load_mini_ptb(ptb_dir)`: the project's agreed small real-data split.

The vocabulary (`Vocabulary`, `UNK`) is defined in `zoo.datasets.vocabulary`, the
batches (`ptb_iterator`, `ptb_dataset`, `epoch_size`) in `zoo.datasets.ptb_pipeline`;
all are public as `zoo.datasets.<name>`.

Out-of-vocabulary words in valid/test are mapped to `<unk>` and counted
(`PTBData.oov`); the original TensorFlow reader silently dropped them.

Only `ptb_dataset` imports TensorFlow, and only downloads import Keras.
"""

import collections
import gzip
import os
import tarfile
import zlib

from zoo.datasets import _download
from zoo.datasets import _text

from zoo.datasets.vocabulary import Vocabulary

EOS = "<eos>"

PTB_ORIGIN = "https://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
PTB_FNAME = "simple-examples.tgz"
PTB_SIZE = 34_869_662
SPLITS = ("train", "valid", "test")
MINI_PTB_VALID_LINES = 1880

_LOCAL_HINT = (
    "pass a directory holding ptb.train.txt, ptb.valid.txt and ptb.test.txt as `data_dir`."
)


def _read_text(path):
    """Reads a whole UTF-8 file, with one clear error per failure mode."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No such file: {path!r}. Pass the path of an existing text file "
            "(for PTB: a directory with ptb.{train,valid,test}.txt as `data_dir`)."
        )
    with open(path, "rb") as f:
        return _text.decode(f.read(), repr(path))


def words_from_lines(lines):
    """Tokens of an iterable of lines: whitespace-split words, then `<eos>` per line."""
    words = []
    for line in lines:
        words.extend(line.split())
        words.append(EOS)
    return words


def _lines(text):
    r"""The lines of `text` that the tutorial's reader gives an `<eos>`, split at `"\n"`.

    A newline ends a line; what follows the last newline is a line only if it holds
    a word (the PTB character files end in `"\n "`: that blank remainder is no line).
    Only `"\n"` breaks lines, as in the tutorial (`str.splitlines` would also break
    at `"\r"`, `"\x0c"`, `"\u2028"`, ...).
    """
    lines = text.split("\n")
    if not lines[-1].strip():
        lines.pop()
    return lines


def read_words(path):
    """Reads a text file as a list of tokens, each newline becoming `<eos>`.

    The TensorFlow tutorial's `f.read().replace("\\n", "<eos>").split()`: on every
    PTB file (word and character) the tokens are exactly that expression's. Two
    deliberate differences elsewhere: `<eos>` is never glued to a word when a line
    does not start or end with a space, and a last line with words but no trailing
    newline still ends with `<eos>`.

    Args:
        path: str or path-like, a UTF-8 text file.

    Returns:
        list of str.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not valid UTF-8 or holds no words.

    Example:
    >>> read_words("ptb.valid.txt")[:3]  # doctest: +SKIP
    ['consumers', 'may', 'want']
    """
    text = _read_text(path)
    words = words_from_lines(_lines(text))
    if all(w == EOS for w in words):
        raise ValueError(f"{os.fspath(path)!r} is empty (no words); pass a non-empty text file.")
    return words


PTBData = collections.namedtuple("PTBData", ["train", "valid", "test", "vocab", "oov"])
PTBData.__doc__ = """The three splits as int32 id arrays, their vocabulary and OOV counts.

Fields:
    train, valid, test: 1-D int32 numpy arrays of token ids.
    vocab: the `Vocabulary` built from the training split.
    oov: dict split name → number of tokens mapped to `<unk>` because they were
        not in the training vocabulary (0 for train).
"""


def _encode_splits(train_words, valid_words, test_words):
    vocab = Vocabulary.build(train_words)
    arrays, oov = {}, {}
    for name, words in zip(SPLITS, (train_words, valid_words, test_words)):
        arrays[name], oov[name] = vocab.encode(words, return_oov=True)
    return PTBData(arrays["train"], arrays["valid"], arrays["test"], vocab, oov)


#: What reading a truncated or damaged .tgz raises (tarfile does not wrap them all).
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def _unreadable(archive, e):
    return ValueError(
        f"{archive} is not a readable .tgz archive ({_download.reason(e).rstrip(':')}) and was "
        f"deleted. Check `origin`, or {_LOCAL_HINT}"
    )


def _ptb_members(archive, tar):
    """`{name: member}` of the three data/ptb.{train,valid,test}.txt files in `tar`.

    Raises `ValueError` when one is missing: `archive` is not the simple-examples archive.
    """
    wanted = {f"ptb.{s}.txt" for s in SPLITS}
    found = {}
    for member in tar:
        parts = member.name.replace("\\", "/").split("/")
        if member.isfile() and parts[-1] in wanted and parts[-2:-1] == ["data"]:
            found[parts[-1]] = member
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(
            f"{archive} has no simple-examples/data/{missing[0]}: it is not the "
            f"simple-examples archive and was deleted. Check `origin`, or {_LOCAL_HINT}"
        )
    return found


def _check_archive(archive):
    """Raises `ValueError` unless `archive` is a complete simple-examples archive.

    `_download.fetch` calls it on a new download before recording the sha256, and deletes
    the file when it raises: a truncated .tgz is never recorded as good.
    """
    try:
        with open(archive, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        if gzipped:  # the whole stream, so that a cut anywhere fails its length/CRC check
            with gzip.open(archive) as stream:
                while stream.read(1 << 20):
                    pass
        with tarfile.open(archive, "r:*") as tar:
            _ptb_members(archive, tar)
    except _ARCHIVE_ERRORS as e:
        raise _unreadable(archive, e) from None


def _extract_ptb(archive, out_dir):
    """Extracts only data/ptb.{train,valid,test}.txt from simple-examples.tgz."""
    os.makedirs(out_dir, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for name, member in _ptb_members(archive, tar).items():
                tmp = os.path.join(out_dir, name + ".tmp")
                with tar.extractfile(member) as src, open(tmp, "wb") as dst:
                    dst.write(src.read())
                os.replace(tmp, os.path.join(out_dir, name))
    except ValueError:
        _download.discard(archive)
        raise
    except _ARCHIVE_ERRORS as e:
        _download.discard(archive)
        raise _unreadable(archive, e) from None


def _download_ptb(cache_dir, origin, file_hash, file_size):
    archive = _download.fetch(
        PTB_FNAME, origin, cache_dir=cache_dir, file_hash=file_hash,
        file_size=_download.expected_size(file_size, origin, PTB_ORIGIN, PTB_SIZE),
        local_hint=_LOCAL_HINT, validate=_check_archive,
    )
    out_dir = os.path.join(os.path.dirname(archive), "simple-examples", "data")
    stamp = os.path.join(out_dir, ".extracted-from")
    digest_record = archive + ".sha256"
    with open(digest_record, encoding="ascii") as f:
        digest = f.read().split()[0]
    current = None
    if os.path.exists(stamp):
        with open(stamp, encoding="ascii") as f:
            current = f.read().strip()
    if current != digest or not all(
        os.path.isfile(os.path.join(out_dir, f"ptb.{s}.txt")) for s in SPLITS
    ):
        _extract_ptb(archive, out_dir)
        with open(stamp, "w", encoding="ascii") as f:
            f.write(digest)
    return out_dir


def load_ptb(data_dir=None, cache_dir=None, origin=PTB_ORIGIN, file_hash=None,
             file_size=_download.AUTO):
    """Loads Penn Treebank as int32 id arrays with a vocabulary built from train.

    With `data_dir`, reads `ptb.train.txt`, `ptb.valid.txt` and `ptb.test.txt`
    from it. Otherwise downloads `simple-examples.tgz` once with
    `keras.utils.get_file` into `<cache_dir>/datasets/` (the Keras cache,
    `~/.keras` by default), checks its size (34,869,662 bytes) and the sha256
    recorded beside it on the first download, and extracts the three files.

    Args:
        data_dir: str or None, a directory holding the three PTB text files.
        cache_dir: str or None, the Keras cache root. Defaults to `$KERAS_HOME`
            or `~/.keras`.
        origin: str, URL of `simple-examples.tgz`. Defaults to Mikolov's RNNLM page.
        file_hash: str or None, expected sha256 (or md5) of the archive.
        file_size: int, None or `"auto"`, expected archive size in bytes; `"auto"`
            checks the canonical size for the default origin only.

    Returns:
        `PTBData(train, valid, test, vocab, oov)`.

    Raises:
        FileNotFoundError: a split file is missing from `data_dir`.
        ValueError: an empty or non-UTF-8 split, or a size/hash mismatch.
        OSError: the download failed (e.g. offline); the message says how to
            pass a local directory.

    Example:
    >>> data = load_ptb(data_dir="simple-examples/data")  # doctest: +SKIP
    >>> len(data.vocab), data.train.shape
    (10000, (929589,))
    """
    if data_dir is None:
        data_dir = _download_ptb(cache_dir, origin, file_hash, file_size)
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"`data_dir` {data_dir!r} is not a directory; {_LOCAL_HINT}")
    paths = {s: os.path.join(data_dir, f"ptb.{s}.txt") for s in SPLITS}
    for split, path in paths.items():
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"`data_dir` {data_dir!r} has no ptb.{split}.txt; {_LOCAL_HINT}"
            )
    return _encode_splits(*(read_words(paths[s]) for s in SPLITS))


def load_mini_ptb(ptb_dir):
    """Loads the project's "mini-PTB": small real PTB text, vocabulary from train.

    train = `ptb.valid.txt` (3,370 lines); valid = the first 1,880 lines of
    `ptb.test.txt`; test = its remaining 1,881 lines. About 4% of valid/test
    tokens are not in the train vocabulary; they map to `<unk>` (see `oov`).

    Args:
        ptb_dir: str or path-like, a directory holding `ptb.valid.txt` and `ptb.test.txt`.

    Returns:
        `PTBData(train, valid, test, vocab, oov)`.
    """
    ptb_dir = os.fspath(ptb_dir)
    train = read_words(os.path.join(ptb_dir, "ptb.valid.txt"))
    test_lines = _lines(_read_text(os.path.join(ptb_dir, "ptb.test.txt")))
    if len(test_lines) <= MINI_PTB_VALID_LINES:
        raise ValueError(
            f"ptb.test.txt in {ptb_dir!r} has {len(test_lines)} lines; mini-PTB needs more "
            f"than {MINI_PTB_VALID_LINES} (the real file has 3,761)."
        )
    valid_lines, test_lines = mini_ptb_split(test_lines)
    return _encode_splits(train, words_from_lines(valid_lines), words_from_lines(test_lines))


def mini_ptb_split(test_lines):
    """Splits the lines of `ptb.test.txt` into mini-PTB's (valid, test) lines.

    The one place the split is coded (see ../shared/data/README.md): valid = the first 1,880
    lines, test = the rest.
    """
    return test_lines[:MINI_PTB_VALID_LINES], test_lines[MINI_PTB_VALID_LINES:]

"""Download helper shared by the PTB and text8 loaders.

Everything goes through `keras.utils.get_file`, so files land in the Keras cache
directory (`$KERAS_HOME` or `~/.keras`, subfolder `datasets/`) with Keras's own
progress bar. On top of `get_file` this module:

- creates `cache_dir` first (`get_file` silently falls back to `/tmp/.keras`
  when the directory does not exist yet);
- checks the file size when it is known (neither archive has a published hash);
- records the sha256 it computes on the first download in `<file>.sha256`
  beside the file and verifies it on every later load;
- deletes the file when a size or hash check fails, so nothing corrupt stays in
  the cache;
- turns "no network" into one error that says how to pass a local copy.

Keras (hence TensorFlow) is imported only when a download is attempted.
"""

import hashlib
import os

#: Use the known size of the canonical file (only for the default origin).
AUTO = "auto"


def keras_cache_dir(cache_dir=None):
    """The Keras cache root: `cache_dir`, else `$KERAS_HOME`, else `~/.keras`."""
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))


def sha256_of(path, chunk_size=1 << 20):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _read_record(record):
    try:
        with open(record, encoding="ascii") as f:
            fields = f.read().split()
    except (OSError, UnicodeDecodeError):
        return None
    return fields[0].lower() if fields else None


def fetch(fname, origin, cache_dir=None, file_hash=None, file_size=None, local_hint=""):
    """Downloads `origin` into `<cache_dir>/datasets/<fname>` (once) and checks it.

    Args:
        fname: str, file name in the cache.
        origin: str, URL to download from.
        cache_dir: str or None, Keras cache root. Defaults to `$KERAS_HOME` or `~/.keras`.
        file_hash: str or None, expected sha256 (or md5). When `None`, the sha256
            recorded beside the file on its first download is used, if any.
        file_size: int or None, expected size in bytes; `None` skips the check.
        local_hint: str, how to use a local copy instead (appended to the
            "download failed" error).

    Returns:
        Absolute path of the verified file.

    Raises:
        ValueError: on a size or hash mismatch (the file is deleted first).
        OSError: when the download fails (e.g. offline), naming `local_hint`.
    """
    import keras  # noqa: PLC0415  (imported lazily: it may import TensorFlow)

    root = keras_cache_dir(cache_dir)
    datadir = os.path.join(root, "datasets")
    os.makedirs(datadir, exist_ok=True)
    target = os.path.join(datadir, fname)
    record = target + ".sha256"

    recorded = _read_record(record) if os.path.exists(target) else None
    expected = file_hash if file_hash is not None else recorded
    try:
        path = keras.utils.get_file(
            fname=fname,
            origin=origin,
            file_hash=expected,
            cache_dir=root,
            cache_subdir="datasets",
        )
    except ValueError as e:  # get_file's hash mismatch leaves the file behind
        _remove(target)
        _remove(record)
        raise ValueError(
            f"Downloaded {fname} from {origin} does not match its expected hash "
            f"{expected} ({e}); the file was deleted from {datadir}. Check `origin` / "
            f"`file_hash`, or {local_hint}"
        ) from None
    except KeyboardInterrupt:
        _remove(target)
        raise
    except Exception as e:  # noqa: BLE001  (get_file raises bare Exception on URL errors)
        _remove(target)
        raise OSError(
            f"Could not download {fname} from {origin} ({e}). If this machine is offline, "
            f"{local_hint}"
        ) from None

    if file_size is not None:
        size = os.path.getsize(path)
        if size != file_size:
            _remove(path)
            _remove(record)
            raise ValueError(
                f"{fname} from {origin} has {size:,} bytes, expected {file_size:,}: the "
                f"download is incomplete or not the canonical file and was deleted from "
                f"{datadir}. Retry, pass `file_size=None` for another mirror, or {local_hint}"
            )
    if recorded is None or (file_hash is not None and file_hash.lower() != recorded):
        digest = sha256_of(path)
        tmp = record + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{digest}  {fname}\n")
        os.replace(tmp, record)
    return path

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
- checks a new file with the loader's `validate` (e.g. "is a complete archive") before
  recording its hash, so a truncated download is deleted, never recorded as good;
- gives every connect and read a socket timeout (`get_file` has none: a server that
  accepts and never answers would hang the program);
- turns "no network" into one error that says how to pass a local copy.

Keras (hence TensorFlow) is imported only when a download is attempted.
"""

import contextlib
import hashlib
import os
import socket

from zoo import checks

#: Use the known size of the canonical file (only for the default origin).
AUTO = "auto"

#: Seconds a download waits on each connect or read before giving up; the environment
#: variable `ZOO_DOWNLOAD_TIMEOUT` overrides it.
DOWNLOAD_TIMEOUT = 60.0
ENV_TIMEOUT = "ZOO_DOWNLOAD_TIMEOUT"


def download_timeout(timeout=None):
    """`timeout`, else `$ZOO_DOWNLOAD_TIMEOUT`, else `DOWNLOAD_TIMEOUT` (seconds, > 0)."""
    if timeout is None:
        return checks.env_seconds(ENV_TIMEOUT, DOWNLOAD_TIMEOUT)
    return checks.positive_number("timeout", timeout)


@contextlib.contextmanager
def socket_timeout(seconds):
    """Sets `socket.setdefaulttimeout(seconds)` inside the block, then restores it."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def reason(error):
    """The first line of an exception's message, or its type's name where it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def expected_size(file_size, origin, canonical_origin, canonical_size):
    """`file_size`, where `AUTO` means `canonical_size` for `canonical_origin`, else no check."""
    if file_size == AUTO:
        return canonical_size if origin == canonical_origin else None
    return file_size


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


def discard(path):
    """Deletes a cached file and its recorded hash, so the next load downloads it again."""
    _remove(path)
    _remove(path + ".sha256")


def _read_record(record):
    try:
        with open(record, encoding="ascii") as f:
            fields = f.read().split()
    except (OSError, UnicodeDecodeError):
        return None
    return fields[0].lower() if fields else None


def fetch(fname, origin, cache_dir=None, file_hash=None, file_size=None, local_hint="",
          validate=None, timeout=None):
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
        validate: callable or None, called with the file's path before its sha256 is
            recorded (after a download); raises `ValueError` when the file is unusable,
            e.g. a truncated archive. The file is then deleted and the error re-raised.
        timeout: float or None, seconds to wait on each connect or read. Defaults to
            `$ZOO_DOWNLOAD_TIMEOUT` or `DOWNLOAD_TIMEOUT` (60).

    Returns:
        Absolute path of the verified file.

    Raises:
        ValueError: on a size or hash mismatch, or a file `validate` rejects (the file
            is deleted first).
        OSError: when the download fails (e.g. offline, or no answer within `timeout`),
            naming `local_hint`.
    """
    import keras  # noqa: PLC0415  (imported lazily: it may import TensorFlow)

    timeout = download_timeout(timeout)

    root = keras_cache_dir(cache_dir)
    datadir = os.path.join(root, "datasets")
    os.makedirs(datadir, exist_ok=True)
    target = os.path.join(datadir, fname)
    record = target + ".sha256"

    recorded = _read_record(record) if os.path.exists(target) else None
    expected = file_hash if file_hash is not None else recorded
    try:
        with socket_timeout(timeout):
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
        why = reason(e)
        if isinstance(e, TimeoutError) or "timed out" in why:
            why = f"no answer within {timeout:g} s: {why}"
        raise OSError(
            f"Could not download {fname} from {origin} ({why}). If this machine is "
            f"offline, {local_hint}"
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
        if validate is not None:
            try:
                validate(path)
            except ValueError:
                discard(path)
                raise
        digest = sha256_of(path)
        tmp = record + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{digest}  {fname}\n")
        os.replace(tmp, record)
    return path

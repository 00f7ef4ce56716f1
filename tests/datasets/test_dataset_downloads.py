"""The real download path (keras.utils.get_file) against a local HTTP server."""

import functools
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from zoo.datasets import alphabet
from zoo.datasets import ptb
from zoo.datasets import text8
from zoo.datasets import vocabulary


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def archives(ptb_dir, tmp_path_factory):
    """A fake simple-examples.tgz (train = a copy of valid) and a text8.zip, built from PTB."""
    root = tmp_path_factory.mktemp("served")
    with tarfile.open(root / "simple-examples.tgz", "w:gz") as tar:
        for split, source in (("train", "valid"), ("valid", "valid"), ("test", "test")):
            tar.add(ptb_dir / f"ptb.{source}.txt", arcname=f"./simple-examples/data/ptb.{split}.txt")
        info = tarfile.TarInfo("./simple-examples/README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with tarfile.open(root / "other.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("./simple-examples/README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    chars = alphabet.to_text8((ptb_dir / "ptb.test.txt").read_text(encoding="utf-8"))
    with zipfile.ZipFile(root / "text8.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("text8", chars)
    return root, chars


@pytest.fixture(scope="module")
def server(archives):
    root, _ = archives
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_files(cache):
    return sorted(os.path.relpath(os.path.join(d, f), cache)
                  for d, _, files in os.walk(cache) for f in files)


def test_ptb_download_with_sha256(server, archives, ptb_dir, tmp_path):
    root, _ = archives
    digest = sha256(root / "simple-examples.tgz")
    origin = f"{server}/simple-examples.tgz"
    data = ptb.load_ptb(cache_dir=tmp_path, origin=origin, file_hash=digest,
                        file_size=(root / "simple-examples.tgz").stat().st_size)
    # Same result as reading the files directly: train = valid in this archive.
    words = ptb.read_words(ptb_dir / "ptb.valid.txt")
    assert data.vocab == vocabulary.Vocabulary.build(words)
    np.testing.assert_array_equal(data.train, data.valid)
    assert data.vocab.decode(data.test)[:3] == ptb.read_words(ptb_dir / "ptb.test.txt")[:3]
    files = cache_files(tmp_path)
    assert "datasets/simple-examples.tgz" in files
    assert "datasets/simple-examples/data/ptb.train.txt" in files
    record = (tmp_path / "datasets" / "simple-examples.tgz.sha256").read_text().split()[0]
    assert record == digest
    # Cached: a second load works with the server unreachable (and verifies the record).
    again = ptb.load_ptb(cache_dir=tmp_path, origin="http://127.0.0.1:9/nothing.tgz")
    np.testing.assert_array_equal(again.test, data.test)


def test_wrong_hash_or_size_rejected_and_nothing_left(server, archives, tmp_path):
    origin = f"{server}/simple-examples.tgz"
    with pytest.raises(ValueError, match="does not match its expected hash.*deleted"):
        ptb.load_ptb(cache_dir=tmp_path / "a", origin=origin, file_hash="0" * 64)
    assert cache_files(tmp_path / "a") == []
    with pytest.raises(ValueError, match="expected 34,869,662.*deleted"):
        ptb.load_ptb(cache_dir=tmp_path / "b", origin=origin, file_size=ptb.PTB_SIZE)
    assert cache_files(tmp_path / "b") == []


def test_offline_gives_one_error_naming_data_dir(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match=r"offline.*as `data_dir`\.$"):
        ptb.load_ptb(cache_dir=tmp_path, origin=f"http://127.0.0.1:{port}/simple-examples.tgz")
    assert cache_files(tmp_path) == []


def test_archive_without_ptb_files(server, archives, tmp_path):
    # text8.zip served under the tgz name: downloaded fine, but it is not the archive.
    with pytest.raises(ValueError, match="not a readable .tgz archive.*deleted.*as `data_dir`"):
        ptb.load_ptb(cache_dir=tmp_path, origin=f"{server}/text8.zip")
    assert cache_files(tmp_path) == []
    with pytest.raises(ValueError, match=r"no simple-examples/data/ptb\.test\.txt.*as `data_dir`"):
        ptb.load_ptb(cache_dir=tmp_path, origin=f"{server}/other.tgz")
    assert cache_files(tmp_path) == []


def test_text8_download_records_and_checks_sha256(server, archives, tmp_path):
    root, chars = archives
    origin = f"{server}/text8.zip"
    train, valid = text8.load_text8(cache_dir=tmp_path, origin=origin, valid_size=500)
    assert valid == chars[:500] and train == chars[500:]
    record = tmp_path / "datasets" / "text8.zip.sha256"
    assert record.read_text().split()[0] == sha256(root / "text8.zip")
    # A corrupted cached file fails the recorded hash and is fetched again.
    (tmp_path / "datasets" / "text8.zip").write_bytes(b"garbage")
    train2, _ = text8.load_text8(cache_dir=tmp_path, origin=origin, valid_size=500)
    assert train2 == train
    with pytest.raises(ValueError, match="expected 31,344,016"):
        text8.load_text8(cache_dir=tmp_path / "c", origin=origin, file_size=text8.TEXT8_SIZE)
    assert cache_files(tmp_path / "c") == []


# --------------------------------------------------------------------------- bad downloads


@pytest.fixture(scope="module")
def damaged(archives):
    """Cut copies of both archives, served as if they were whole (their own size)."""
    root, _ = archives
    for name, cut in (("simple-examples.tgz", "cut.tgz"), ("text8.zip", "cut.zip")):
        data = (root / name).read_bytes()
        (root / cut).write_bytes(data[: len(data) * 2 // 3])
    return root


def test_truncated_tgz_is_deleted_never_recorded(server, damaged, tmp_path):
    with pytest.raises(ValueError, match=r"not a readable \.tgz archive.*was deleted"):
        ptb.load_ptb(cache_dir=tmp_path, origin=f"{server}/cut.tgz")
    assert cache_files(tmp_path) == [], "no file and no .sha256 left to bless it"


def test_truncated_text8_zip_is_deleted_never_recorded(server, damaged, tmp_path):
    with pytest.raises(ValueError, match=r"text8\.zip' is not a zip file.*deleted from the cache"):
        text8.load_text8(cache_dir=tmp_path, origin=f"{server}/cut.zip")
    assert cache_files(tmp_path) == []


def test_bad_text8_zip_cached_with_a_hash_is_deleted(server, archives, tmp_path):
    """A damaged file that an older version recorded as good is dropped, then re-fetched."""
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "text8.zip").write_bytes(b"not a zip")
    (datasets / "text8.zip.sha256").write_text(
        hashlib.sha256(b"not a zip").hexdigest() + "  text8.zip\n")
    with pytest.raises(ValueError, match="not a readable zip file.*deleted from the cache"):
        text8.load_text8(cache_dir=tmp_path, origin=f"{server}/text8.zip")
    assert cache_files(tmp_path) == []
    train, valid = text8.load_text8(cache_dir=tmp_path, origin=f"{server}/text8.zip",
                                    valid_size=500)
    assert valid + train == archives[1]


def _load_in_thread(load, seconds):
    """Runs `load()` in a thread; returns its exception, failing if it is still running."""
    result = {}

    def target():
        try:
            load()
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the download still hangs after {seconds} s"
    return result.get("error")


@pytest.mark.parametrize("loader", ["ptb", "text8"])
def test_a_server_that_never_answers_times_out(loader, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "1")
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        origin = f"http://127.0.0.1:{silent.getsockname()[1]}/file"
        if loader == "ptb":
            error = _load_in_thread(lambda: ptb.load_ptb(cache_dir=tmp_path, origin=origin), 30)
        else:
            error = _load_in_thread(lambda: text8.load_text8(cache_dir=tmp_path, origin=origin),
                                    30)
    assert isinstance(error, OSError), error
    assert "no answer within 1 s" in str(error) and "offline" in str(error)
    assert cache_files(tmp_path) == []


def test_download_timeout_must_be_positive(monkeypatch):
    from zoo.datasets import _download

    assert _download.download_timeout(2.5) == 2.5
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "7")
    assert _download.download_timeout() == 7.0
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="Received: ZOO_DOWNLOAD_TIMEOUT='soon'"):
        _download.download_timeout()
    with pytest.raises(ValueError, match="Received: timeout=0"):
        _download.download_timeout(0)


def test_error_reason_and_expected_size():
    from zoo.datasets import _download

    assert _download.reason(ValueError("bad header\nmore detail")) == "bad header"
    assert _download.reason(EOFError()) == "EOFError"  # no message: the type's name
    assert _download.expected_size(_download.AUTO, ptb.PTB_ORIGIN, ptb.PTB_ORIGIN, 7) == 7
    assert _download.expected_size(_download.AUTO, "http://mirror/x.tgz", ptb.PTB_ORIGIN, 7) is None
    assert _download.expected_size(12, "http://mirror/x.tgz", ptb.PTB_ORIGIN, 7) == 12
    assert _download.expected_size(None, ptb.PTB_ORIGIN, ptb.PTB_ORIGIN, 7) is None

"""A UTF-8 byte-order mark (Windows editors add one) is not part of the text."""

import numpy as np

from zoo.datasets import mirror_text, ptb, text8

BOM = "\ufeff".encode("utf-8")


def test_ptb_files_with_a_bom_give_the_same_tokens(ptb_dir, tmp_path):
    for split in ("train", "valid", "test"):
        source = (ptb_dir / "ptb.valid.txt").read_bytes()
        (tmp_path / f"ptb.{split}.txt").write_bytes(BOM + source)
    words = ptb.read_words(tmp_path / "ptb.valid.txt")
    assert words == ptb.read_words(ptb_dir / "ptb.valid.txt")
    assert not words[0].startswith("\ufeff")
    plain = tmp_path / "plain"
    plain.mkdir()
    for split in ("train", "valid", "test"):
        (plain / f"ptb.{split}.txt").write_bytes((ptb_dir / "ptb.valid.txt").read_bytes())
    a, b = ptb.load_ptb(data_dir=tmp_path), ptb.load_ptb(data_dir=plain)
    assert a.vocab == b.vocab
    np.testing.assert_array_equal(a.train, b.train)


def test_mini_ptb_with_a_bom(ptb_dir, tmp_path):
    for name in ("ptb.valid.txt", "ptb.test.txt"):
        (tmp_path / name).write_bytes(BOM + (ptb_dir / name).read_bytes())
    a, b = ptb.load_mini_ptb(tmp_path), ptb.load_mini_ptb(ptb_dir)
    assert a.vocab == b.vocab
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(a, split), getattr(b, split))


def test_text8_text_file_with_a_bom(tmp_path):
    text = " anarchism originated as a term of abuse" * 5
    (tmp_path / "bom.txt").write_bytes(BOM + text.encode("utf-8"))
    assert text8.load_text8(tmp_path / "bom.txt", valid_size=10) == (text[10:], text[:10])


def test_mirror_text_with_a_bom(tmp_path):
    (tmp_path / "s.txt").write_bytes(BOM + b"the cat sat\n")
    assert mirror_text.read_text(tmp_path / "s.txt") == "the cat sat\n"

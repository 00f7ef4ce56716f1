"""Text as the PTB and text8 loaders read it: UTF-8, a leading byte-order mark dropped."""


def decode(raw, where):
    """`raw` bytes as UTF-8 text without a leading byte-order mark (Windows editors add one).

    Args:
        raw: bytes.
        where: str, names the source in the error (e.g. the file's path).

    Raises:
        ValueError: `raw` is not UTF-8; the message names the first bad byte.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{where} is not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 4]!r}); "
            "convert it to UTF-8 text."
        ) from None

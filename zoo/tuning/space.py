"""Search spaces from text: `--space` JSON and the `--hidden-sizes`-style flags' values.

A flag's value is `MIN:MAX[:log|linear]` (a range; sizes, learning rate and clip norm default
to log scale), `A,B,C` (choices) or one value (fixed).
"""

import json
import os

from zoo.tuning.hypermodels import TUNABLE_FIELDS
from zoo.tuning.hypermodels import default_space

# --flag → (config field, default sampling of a range).
SPACE_FLAGS = {
    "--hidden-sizes": ("hidden_size", "log"),
    "--num-layers": ("num_layers", "linear"),
    "--embedding-sizes": ("embedding_size", "log"),
    "--keep-probs": ("keep_prob", "linear"),
    "--learning-rates": ("learning_rate", "log"),
    "--max-grad-norms": ("max_grad_norm", "log"),
    "--cells": ("cell", None),
}


def parse_space_value(text, field, default_sampling="linear"):
    """Parses one `--hidden-sizes`-style value into a search-space entry.

    Args:
        text: str, `"MIN:MAX"` or `"MIN:MAX:log"` (a range), `"A,B,C"` (choices) or `"A"`
            (fixed).
        field: str, the config field (decides int, float or str values).
        default_sampling: str, the sampling of a range without one.

    Returns:
        A range dict, a list, or a single value (see `zoo.tuning.hypermodels`).

    Raises:
        ValueError: unparsable numbers or a malformed range.
    """
    kind = TUNABLE_FIELDS[field]
    text = text.strip()

    def convert(item):
        item = item.strip()
        if kind is str:
            return item
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"expected a number, got {item!r}") from None
        if kind is int:
            if not value.is_integer():
                raise ValueError(f"expected an integer, got {item!r}")
            return int(value)
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or kind is str:
            raise ValueError(f"expected MIN:MAX or MIN:MAX:log|linear, got {text!r}")
        spec = {"min": convert(parts[0]), "max": convert(parts[1]),
                "sampling": parts[2].strip() if len(parts) == 3 else default_sampling}
        return spec
    if text == "":
        return []
    items = [convert(t) for t in text.split(",") if t.strip()]
    if "," in text:
        return items
    return items[0] if items else []


def load_space(text):
    """`--space`: a JSON file's path or JSON text."""
    if os.path.isfile(text):
        with open(text) as f:
            source, raw = text, f.read()
    else:
        source, raw = "the --space text", text
    try:
        space = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"--space: {source} is neither a file nor valid JSON ({e.msg} at "
                         f"line {e.lineno} column {e.colno})") from None
    if not isinstance(space, dict):
        raise ValueError(f"--space must be a JSON object of field → values, got "
                         f"{type(space).__name__}")
    return space



def build_space(config, space_text=None, flags=None):
    """The search space: `space_text` (`--space`: JSON text or a file) or the config's default,
    then each `SPACE_FLAGS` flag's value in `flags` (`{"--hidden-sizes": "8:32"}`) replaces
    its field's entry.

    Raises:
        ValueError: naming the flag whose value does not parse.
    """
    space = default_space(config) if space_text is None else load_space(space_text)
    for flag, text in (flags or {}).items():
        if text is None:
            continue
        field, sampling = SPACE_FLAGS[flag]
        try:
            space[field] = parse_space_value(text, field, sampling or "linear")
        except ValueError as e:
            raise ValueError(f"argument {flag}: {e}") from None
    return space

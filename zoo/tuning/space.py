"""Search spaces from text: JSON (text or a file) and one field's `MIN:MAX`-style value.

A field's value is `MIN:MAX[:log|linear]` (a range; sizes, learning rate and clip norm
default to log scale, `SAMPLINGS`), `A,B,C` (choices) or one value (fixed).
"""

import json
import os

from zoo import checks
from zoo.tuning.hypermodels import TUNABLE_FIELDS
from zoo.tuning.hypermodels import default_space

#: The default sampling of a range per field (`None`: the field takes no range).
SAMPLINGS = {"hidden_size": "log", "num_layers": "linear", "embedding_size": "log",
             "keep_prob": "linear", "learning_rate": "log", "max_grad_norm": "log",
             "cell": None}


def parse_space_value(text, field, default_sampling="linear"):
    """Parses one field's value (`"8:128"`, `"1,2"`, `"gate"`) into a search-space entry.

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
            raise ValueError(f"must be a number. Received: {item!r}") from None
        if kind is int:
            if not value.is_integer():
                raise ValueError(f"must be an integer. Received: {item!r}")
            return int(value)
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or kind is str:
            raise ValueError(f"must be MIN:MAX or MIN:MAX:log|linear. Received: {text!r}")
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
    """A search space from `text`: a JSON file's path or JSON text.

    Raises:
        ValueError: neither a file nor valid JSON, or not a JSON object.
    """
    if os.path.isfile(text):
        with open(text) as f:
            source, raw = text, f.read()
    else:
        source, raw = "the text", text
    try:
        space = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"Argument `space` must be a JSON file or JSON text. Received: "
                         f"{source}, neither a file nor valid JSON ({e.msg} at line "
                         f"{e.lineno} column {e.colno})") from None
    if not isinstance(space, dict):
        checks.invalid("space", "a JSON object of field -> values", space,
                       shown=f"a JSON {type(space).__name__}")
    return space


def build_space(config, space=None, entries=None):
    """The search space: `space` (a dict, JSON text or a JSON file; default the config's
    `default_space`) with each of `entries` (`{"hidden_size": {"min": 8, "max": 32}}`, e.g.
    from `parse_space_value`) replacing its field's entry.

    Raises:
        ValueError: `space` is text that does not parse as a JSON object.
    """
    if space is None:
        space = default_space(config)
    elif isinstance(space, str):
        space = load_space(space)
    return {**space, **(entries or {})}

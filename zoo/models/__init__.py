"""Named model configs and the builders that turn them into Keras models.

`zoo.models.configs` is plain Python; the builders (and with them Keras) are imported on
first use, so the command line's help and argument errors answer without starting TensorFlow.
"""

import importlib

from zoo.models.configs import (DEFAULT_MODEL, LMConfig, MirrorConfig, config_from_dict,
                                get_config, list_configs, register_config)
from zoo.models.awd_config import AWDConfig  # registers the awd-* presets

#: The names that need Keras, and the module (of this package) that defines each.
_LAZY = {"build_lm": "lm", "compile_lm": "lm", "copy_to_batch": "lm", "make_lstm": "lm",
         "get_lstm_weights": "lstm_weights", "set_lstm_weights": "lstm_weights"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"zoo.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'zoo.models' has no attribute {name!r}")


__all__ = ["AWDConfig", "DEFAULT_MODEL", "LMConfig", "MirrorConfig", "config_from_dict", "get_config",
           "list_configs", "register_config", *sorted(_LAZY)]

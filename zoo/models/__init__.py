"""Named model configs and the builders that turn them into Keras models.

`zoo.models.configs` is plain Python; the builders (and with them Keras) are imported on
first use, so the command line's help and argument errors answer without starting TensorFlow.
"""

from zoo.models.configs import (DEFAULT_MODEL, LMConfig, MirrorConfig, config_from_dict,
                                get_config, list_configs, register_config)
from zoo.models.awd_config import AWDConfig  # registers the awd-* presets

_LAZY = {"build_lm", "compile_lm", "copy_to_batch", "get_lstm_weights", "lstm_layer",
         "make_lstm", "set_lstm_weights"}


def __getattr__(name):
    if name in _LAZY:
        from zoo.models import lm

        return getattr(lm, name)
    raise AttributeError(f"module 'zoo.models' has no attribute {name!r}")


__all__ = ["AWDConfig", "DEFAULT_MODEL", "LMConfig", "MirrorConfig", "config_from_dict", "get_config",
           "list_configs", "register_config", *sorted(_LAZY)]

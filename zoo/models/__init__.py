"""Named model configs and the builders that turn them into Keras models."""

from zoo.models.configs import (DEFAULT_MODEL, LMConfig, get_config, list_configs,
                                register_config)
from zoo.models.lm import build_lm, compile_lm, copy_to_batch, make_lstm

__all__ = [
    "DEFAULT_MODEL", "LMConfig", "build_lm", "compile_lm", "copy_to_batch", "get_config",
    "list_configs", "make_lstm", "register_config",
]

"""Experiments: one run each, as `train.py` runs them.

- `train_lm`: train a language model in a run folder (resumable, locked).
- `evaluate_lm`: a checkpoint's perplexity on a split (`evaluate` also loads a checkpoint
  with its metadata); `evaluate_adapted`: the same with a cache or dynamic evaluation.
- `sample_tokens` / `generate_text`: sample from a language model.
- `train_mirror`: train the mirror seq2seq model; `evaluate_mirror`: mirror sentences with
  it and score them (`mirror_eval`); `mirror_task`: its data and checkpoints as `train.py`
  runs it.

The package exports the functions whose name is not also a module's (`__all__`), imported
on first use, so importing the package does not import Keras. `train_lm` and `train_mirror`
share their module's name: import them as `from zoo.experiments.train_lm import train_lm`.

Everything here raises `ValueError` (or `OSError`) for a user's mistake, with one line that
says what to do; `zoo.cli` prints it.
"""

import importlib

#: The public names and the module (of this package) that defines each.
_HOMES = {"evaluate_lm": "evaluate", "evaluate_adapted": "adapt", "sample_tokens": "generate",
          "generate_text": "generate", "evaluate_mirror": "mirror_eval"}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f"zoo.experiments.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'zoo.experiments' has no attribute {name!r}")

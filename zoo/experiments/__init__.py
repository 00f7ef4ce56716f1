"""Experiments: one run each, as `train.py` runs them.

- `train_lm.train_lm`: train a language model in a run folder (resumable, locked).
- `evaluate`: load a checkpoint with its metadata; perplexity on a split.
- `generate.sample_tokens` / `generate_text`: sample from a language model.
- `train_mirror.train_mirror`: train the mirror seq2seq model; `mirror_eval`: mirror
  sentences with it and score it; `mirror_task`: its data and checkpoints as `train.py` runs it.

Everything here raises `ValueError` (or `OSError`) for a user's mistake, with one line that
says what to do; `zoo.cli` prints it.
"""

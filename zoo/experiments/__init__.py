"""Experiments: one run each, as `train.py` runs them.

- `train_lm.train_lm`: train a language model in a run folder (resumable, locked).
- `evaluate`: load a checkpoint with its metadata; perplexity on a split.
- `generate.sample_tokens` / `generate_text`: sample from a language model.
- `train_mirror`: train the mirror seq2seq model; `mirror_task`: its data and checkpoints.

Everything here raises `ValueError` (or `OSError`) for a user's mistake, with one line that
says what to do; `zoo.cli` prints it.
"""

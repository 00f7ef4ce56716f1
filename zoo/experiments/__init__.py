"""One run each: train a language model, evaluate one, train the word-mirror model.

These raise `ValueError` (bad settings or data) and `OSError` (files) only; the command line
(`zoo.cli`) turns them into its messages. Nothing below `zoo.experiments` imports it.
"""

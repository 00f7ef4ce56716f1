"""keras-tuner searches over the zoo's language models (needs the `tune` extra).

- `LMHyperModel` and its per-family subclasses (`WordLMHyperModel`, `CharLMHyperModel`,
  `BigramLMHyperModel`), `hypermodel_for(config, vocab_size, space=...)`;
- `make_tuner(hypermodel, "random" | "bayesian" | "hyperband", ...)`, objective `OBJECTIVE`
  (`val_perplexity`, min);
- `write_report(...)`, `check_trials(...)`: the summary table, the best hyperparameters and
  model, and a clear error when every trial failed;
- `run_search(options)` (`zoo.tuning.run`): the search `python train.py tune ...` runs,
  local or distributed; `zoo.tuning.space`: search spaces from `--space` and its flags.
"""

from zoo.tuning.hypermodels import (OBJECTIVE, BigramLMHyperModel, CharLMHyperModel,
                                    LMHyperModel, WordLMHyperModel, default_space,
                                    hypermodel_for, normalize_space)
from zoo.tuning.search import (SearchFailedError, check_trials, distributed_role,
                               format_markdown, make_tuner, trial_rows, write_report)

__all__ = [
    "OBJECTIVE", "BigramLMHyperModel", "CharLMHyperModel", "LMHyperModel",
    "SearchFailedError", "WordLMHyperModel", "check_trials", "default_space",
    "distributed_role", "format_markdown", "hypermodel_for", "make_tuner", "normalize_space",
    "trial_rows", "write_report",
]
